import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  api,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';
import { programHealth } from './support/program-health.js';
import { reportWorkersRunning, servedConfig } from './support/worker-status.js';

const T = ADMIN_TOKEN;
const NODES = ['n1', 'n2', 'n3'];
let center: TestCenter | undefined;
let dirs: string[] = [];

afterEach(async () => {
  await center?.close();
  center = undefined;
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** Reports that `node` applied `revision` and its worker had these task outcomes. */
async function report(url: string, node: string, revision: number, succeeded: number, failed: number): Promise<void> {
  await reportWorkersRunning(url, node, revision, 1000 + NODES.indexOf(node), programHealth(succeeded, failed));
}

async function setUp(options: { dataDir?: string } = {}): Promise<TestCenter> {
  const started = await startTestCenter({ ...options, ...(options.dataDir ? { dataDir: options.dataDir } : {}) });
  center = started;
  const put = await api(started.url, 'PUT', '/v1/layers/defaults', {
    token: T,
    body: { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'UTC' } },
  });
  expect(put.status).toBe(201);
  for (const node of NODES) {
    expect(
      (await api(started.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: workerNodeLayer() })).status,
    ).toBe(201);
    await report(started.url, node, (await servedConfig(started.url, node)).revision, 50, 0);
  }
  return started;
}

async function rollouts(url: string) {
  const response = await api(url, 'GET', '/v1/rollouts', { token: T });
  expect(response.status).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return response.body.rollouts as Record<string, any>[];
}

async function writeDefaults(url: string, timezone: string, rollout: unknown) {
  const current = await api(url, 'GET', '/v1/layers/defaults', { token: T });
  return api(url, 'PUT', '/v1/layers/defaults', {
    token: T,
    headers: { 'if-match': String(current.body.revision) },
    body: { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone }, rollout },
  });
}

describe('rollouts in the center', () => {
  it('serves a failing change to the first wave only, rolls it back on the gate and records why', async () => {
    const { url } = await setUp();
    const before = Object.fromEntries(
      await Promise.all(NODES.map(async (n) => [n, await servedConfig(url, n)] as const)),
    );
    const write = await writeDefaults(url, 'Europe/Paris', {
      waves: [{ nodes: 1, soak: '2s' }, { rest: true }],
      gates: { failure_rate: { max: 0.2 } },
    });
    expect(write.status).toBe(200);
    const revision = write.body.revision as number;
    const [rollout] = await rollouts(url);
    expect(rollout).toMatchObject({ id: `r${revision}`, state: 'running', wave: 0, served: ['n1'] });
    expect(rollout?.waves.map((w: { nodes: string[] }) => w.nodes)).toEqual([['n1'], ['n2', 'n3']]);
    expect((await servedConfig(url, 'n1')).revision).toBe(revision);
    for (const node of ['n2', 'n3']) expect(await servedConfig(url, node)).toEqual(before[node]);
    // Another write waits for the rollout.
    const refused = await writeDefaults(url, 'UTC', undefined);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`rollout r${revision}`);

    await report(url, 'n1', revision, 2, 8);
    const breachAt = Date.now();
    await until(async () => (await rollouts(url))[0]?.state === 'rolled_back', 10_000, 'the rollback');
    expect(Date.now() - breachAt).toBeLessThan(2000 + 5000);
    const [done] = await rollouts(url);
    const rollbackRevision = done?.rollback_revision as number;
    expect(rollbackRevision).toBe(revision + 1);
    const history = await api(url, 'GET', `/v1/revisions/${rollbackRevision}`, { token: T });
    expect(history.status).toBe(200);
    expect(history.body.kind).toBe('rollback');
    expect(history.body.message).toMatch(/failure_rate measured 0\.8 against bound 0\.2/);
    expect(done?.events.at(-1).gates[0]).toMatchObject({
      gate: 'failure_rate',
      verdict: 'fail',
      measured: 0.8,
      bound: 0.2,
    });
    const layer = await api(url, 'GET', '/v1/layers/defaults', { token: T });
    expect(layer.body.document.celery.timezone).toBe('UTC');
    // Every node is served the old config again; the held ones never saw the bad one.
    for (const node of NODES) expect((await servedConfig(url, node)).hash).toBe(before[node]?.hash);
  });

  it('promotes a good change through every wave by itself within the restart budget', async () => {
    const { url } = await setUp();
    const write = await writeDefaults(url, 'Europe/Berlin', {
      waves: [
        { nodes: 1, soak: '500ms' },
        { rest: true, soak: '500ms' },
      ],
      gates: { failure_rate: { max: 0.2 } },
      restart_budget: { programs: 1 },
    });
    const revision = write.body.revision as number;
    const applied = new Set<string>();
    let worst = 0;
    // A fake agent per node: apply what is served, one at a time, and note how many are served but not applied.
    await until(
      async () => {
        const now = await Promise.all(
          NODES.map(async (node) => [node, (await servedConfig(url, node)).revision] as const),
        );
        const pending = now.filter(([node, rev]) => rev === revision && !applied.has(node));
        worst = Math.max(worst, pending.length);
        const next = pending[0];
        if (next) {
          await report(url, next[0], revision, 40, 0);
          applied.add(next[0]);
        }
        return (await rollouts(url))[0]?.state === 'succeeded';
      },
      20_000,
      'the rollout to succeed',
    );
    expect(worst).toBe(1);
    expect([...applied].sort()).toEqual(NODES);
    const [done] = await rollouts(url);
    expect(done?.events.map((e: { event: string }) => e.event)).toEqual(['started', 'promoted', 'succeeded']);
    for (const node of NODES) expect((await servedConfig(url, node)).revision).toBe(revision);
  });

  it('pauses, resumes, promotes now and aborts on request', async () => {
    const { url } = await setUp();
    const write = await writeDefaults(url, 'Asia/Tokyo', { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' });
    const revision = write.body.revision as number;
    const id = `r${revision}`;
    const post = (command: string) => api(url, 'POST', `/v1/rollouts/${id}/${command}`, { token: T, body: {} });
    expect((await post('pause')).body.state).toBe('paused');
    expect((await post('pause')).status).toBe(409);
    expect((await post('resume')).body.state).toBe('running');
    expect((await post('jump')).status).toBe(404);
    await report(url, 'n1', revision, 10, 0);
    const promoted = await post('promote');
    expect(promoted.status).toBe(200);
    await until(async () => (await rollouts(url))[0]?.wave === 1, 5000, 'the promotion');
    await until(async () => (await servedConfig(url, 'n2')).revision === revision, 5000, 'n2 to be served');
    const aborted = await post('abort');
    expect(aborted.body.state).toBe('rolled_back');
    expect(aborted.body.events.map((e: { event: string }) => e.event)).toEqual([
      'started',
      'paused',
      'resumed',
      'promote_requested',
      'promoted',
      'aborted',
      'rolled_back',
    ]);
    expect((await api(url, 'GET', '/v1/layers/defaults', { token: T })).body.document.celery.timezone).toBe('UTC');
    expect((await api(url, 'GET', '/v1/rollouts/nope', { token: T })).status).toBe(404);
  });

  it('shows in GET /v1/nodes what a held node is served, the latest revision and its wave', async () => {
    const { url } = await setUp();
    const before = { n2: await servedConfig(url, 'n2'), n3: await servedConfig(url, 'n3') };
    const write = await writeDefaults(url, 'Europe/Rome', { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' });
    const revision = write.body.revision as number;
    await until(async () => (await servedConfig(url, 'n1')).revision === revision, 5000, 'n1 to be served');
    const list = (await api(url, 'GET', '/v1/nodes', { token: T })).body.nodes as Record<string, unknown>[];
    const byName = Object.fromEntries(list.map((n) => [n.node, n]));
    expect(byName.n1).toMatchObject({
      desired_revision: revision,
      latest_revision: revision,
      rollout: { id: `r${revision}`, wave: 0, served: true },
    });
    for (const node of ['n2', 'n3'] as const)
      expect(byName[node]).toMatchObject({
        desired_revision: before[node].revision,
        desired_hash: before[node].hash,
        latest_revision: revision,
        rollout: { id: `r${revision}`, wave: 1, served: false },
        // It runs what it is served: in sync, not pending.
        state: 'in_sync',
      });
    const one = await api(url, 'GET', '/v1/nodes/n2', { token: T });
    expect(one.body).toMatchObject({ desired_revision: before.n2.revision, latest_revision: revision });
    await api(url, 'POST', `/v1/rollouts/r${revision}/abort`, { token: T, body: {} });
    const after = await api(url, 'GET', '/v1/nodes/n2', { token: T });
    expect(after.body.rollout).toBeNull();
    expect(after.body.desired_revision).toBe(after.body.latest_revision);
  });

  it('refuses a bad policy with 400 and writes nothing', async () => {
    const { url } = await setUp();
    const response = await writeDefaults(url, 'Asia/Tokyo', { waves: [{ percent: 0 }] });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    expect((await api(url, 'GET', '/v1/layers/defaults', { token: T })).body.document.celery.timezone).toBe('UTC');
  });

  it('resumes a rollout after a center restart, still holding the later waves back', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-rollout-'));
    dirs.push(dataDir);
    const first = await setUp({ dataDir });
    const write = await writeDefaults(first.url, 'America/Lima', {
      waves: [
        { nodes: 1, soak: '1s' },
        { rest: true, soak: '1s' },
      ],
    });
    const revision = write.body.revision as number;
    const old = await servedConfig(first.url, 'n2');
    await first.close();
    center = await startTestCenter({ dataDir });
    const { url } = center;
    expect((await rollouts(url))[0]).toMatchObject({ state: 'running', wave: 0, served: ['n1'] });
    expect(await servedConfig(url, 'n2')).toEqual(old);
    await report(url, 'n1', revision, 10, 0);
    await until(async () => (await rollouts(url))[0]?.wave === 1, 10_000, 'the promotion after the restart');
    for (const node of ['n2', 'n3']) {
      await until(async () => (await servedConfig(url, node)).revision === revision, 5000, `${node} to be served`);
      await report(url, node, revision, 10, 0);
    }
    await until(async () => (await rollouts(url))[0]?.state === 'succeeded', 10_000, 'the rollout to succeed');
  });
});
