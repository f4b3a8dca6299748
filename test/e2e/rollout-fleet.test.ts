import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../support/redis-server.js';
import { CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { startAgentProcess } from './support/fleet-processes.js';
import { nodeSettled } from './support/node-settled.js';
import { type Spawned, spawnCeleriac } from './support/processes.js';

// Health-gated rollouts against real programs: redis-server, `celeriac center`, three `celeriac
// agent`s each running a celeriac-worker on its own queue with tasks flowing. (a) A change that
// makes the tasks fail (ROLLOUT_FAIL=1 in the program's env) goes to the first wave only; its
// failure rate gate fails; the center rolls it back by itself; the other nodes never restart.
// (b) A good change promotes through every wave by itself, never more programs restarting at once
// than the budget (seen from pids and states over time). (c) The center restarts mid-rollout and
// the rollout resumes.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'rollout-e2e-admin-token-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-rollout-'));
const NODES = ['a', 'b', 'c'] as const;
const SOAK_S = 30;

let redis: RedisServer;
let center: Spawned;
let admin: CenterApi;
let centerUrl = '';
let centerPort = 0;
let centerStarts = 0;
let client: Celeriac;
let producing = true;
let producer: Promise<void> | undefined;
const agents: Spawned[] = [];

function settled(node: string): Promise<NodeSummary> {
  return nodeSettled(admin, node, { w: 1 }, 90_000);
}

/** Starts `celeriac center` on `centerPort` with its data in `<dir>/center-data` (the same on a restart). */
async function startCenter(): Promise<void> {
  centerStarts++;
  center = spawnCeleriac(
    [
      'center',
      '--data',
      path.join(dir, 'center-data'),
      '--listen',
      `127.0.0.1:${centerPort}`,
      '--admin-token-file',
      path.join(dir, 'admin-token'),
    ],
    path.join(dir, `center-${centerStarts}.log`),
  );
  await eventually(async () => (await fetch(`${centerUrl}/healthz`).catch(() => undefined))?.ok, 20_000, 'center up');
}

async function rolloutOf(revision: number) {
  return (await admin.request('GET', `/v1/rollouts/r${revision}`)).body as {
    state: string;
    wave: number;
    waves: { nodes: string[] }[];
    served: string[];
    rollback_revision: number;
    events: { event: string; gates?: { gate: string; verdict: string; measured: number; bound: number }[] }[];
  };
}

async function patchDefaults(patch: Record<string, unknown>, message: string): Promise<number> {
  const current = await admin.request('GET', '/v1/layers/defaults');
  const write = await admin.request('PATCH', '/v1/layers/defaults', patch, {
    'if-match': String(current.etag),
    'x-change-message': message,
  });
  expect(write.status, JSON.stringify(write.body)).toBe(200);
  return (write.body as { revision: number }).revision;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  centerPort = await freePort();
  centerUrl = `http://127.0.0.1:${centerPort}`;
  writeFileSync(path.join(dir, 'admin-token'), ADMIN, { mode: 0o600 });
  await startCenter();
  admin = new CenterApi(centerUrl, ADMIN);
  const started = { url: centerUrl };
  const celery = { broker_url: redis.url(0), result_backend: redis.url(1), task_default_queue: 'celery' };
  const w = {
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'rollout-tasks.mjs'),
    concurrency: 2,
    env: { ROLLOUT_FAIL: '0' },
    stop_timeout: '10s',
    ready_timeout: '40s',
  };
  expect((await admin.putLayer('defaults', { celery, programs: { w } })).status).toBe(201);
  for (const node of NODES) {
    expect((await admin.putLayer(`nodes/${node}`, { programs: { w: { queues: [`q-${node}`] } } })).status).toBe(201);
    const token = await admin.createToken('agent', node);
    agents.push(
      await startAgentProcess({
        centerUrl: started.url,
        node,
        auth: ['--token', token],
        stateDir: path.join(dir, `agent-${node}`),
        heartbeat: '500ms',
        logFile: path.join(dir, `agent-${node}.log`),
      }),
    );
  }
  for (const node of NODES) await settled(node);
  client = new Celeriac('rollout-client', { broker_url: redis.url(0), result_backend: redis.url(1) });
  producer = (async () => {
    while (producing) {
      for (const node of NODES) await client.sendTask('rollout.work', [], {}, { queue: `q-${node}` });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  // Every node has measured successes before the change (the baseline).
  for (const node of NODES)
    await eventually(
      async () =>
        ((await admin.node(node)).programs.w as { health?: { counts: { succeeded: number } } })?.health?.counts
          .succeeded,
      60_000,
      `node ${node} measured successes`,
    );
}, 240_000);

afterAll(async () => {
  producing = false;
  await producer?.catch(() => undefined);
  await client?.close();
  for (const agent of agents) await agent.stop('SIGTERM');
  await center?.stop('SIGTERM');
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`rollout e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('a health-gated rollout', () => {
  it('rolls a change that makes tasks fail back from the first wave; the other nodes never restart', async () => {
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await settled(n)] as const)));
    const current = await admin.request('GET', '/v1/layers/defaults');
    const write = await admin.request(
      'PATCH',
      '/v1/layers/defaults',
      {
        programs: { w: { env: { ROLLOUT_FAIL: '1' } } },
        rollout: {
          waves: [{ nodes: 1 }, { percent: 50 }, { rest: true }],
          soak: `${SOAK_S}s`,
          gates: { failure_rate: { max: 0.1, min_tasks: 5 } },
        },
      },
      { 'if-match': String(current.etag), 'x-change-message': 'make the tasks fail' },
    );
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    const revision = (write.body as { revision: number }).revision;

    // Watch every node until the rollout ends: the held nodes keep their revision and their pid.
    let appliedAt: number | undefined;
    let rolledBackAt: number | undefined;
    const seen: Record<string, Set<number>> = { a: new Set(), b: new Set(), c: new Set() };
    const heldRevisions = new Set<number | null>();
    await eventually(
      async () => {
        for (const node of NODES) {
          const n = await admin.node(node);
          for (const pid of n.programs.w?.pids ?? []) seen[node]?.add(pid);
          if (node === 'a' && appliedAt === undefined && n.applied_revision === revision) appliedAt = Date.now();
          if (node !== 'a') heldRevisions.add(n.applied_revision);
        }
        const rollouts = (await admin.request('GET', '/v1/rollouts')).body as { rollouts: { state: string }[] };
        if (rollouts.rollouts[0]?.state === 'rolled_back') rolledBackAt = Date.now();
        return rolledBackAt;
      },
      120_000,
      'the rollback',
    );
    expect(appliedAt, 'node a applied the bad change').toBeDefined();
    const rollbackMs = (rolledBackAt as number) - (appliedAt as number);
    process.stderr.write(`rollout e2e (a): node a applied the bad change; rolled back ${rollbackMs} ms later\n`);
    expect(rollbackMs).toBeLessThan((SOAK_S + 5) * 1000);
    expect(heldRevisions.has(revision)).toBe(false);

    const rollout = ((await admin.request('GET', `/v1/rollouts/r${revision}`)).body ?? {}) as {
      waves: { nodes: string[] }[];
      served: string[];
      rollback_revision: number;
      events: { event: string; gates?: { gate: string; verdict: string; measured: number; bound: number }[] }[];
    };
    expect(rollout.waves.map((w) => w.nodes)).toEqual([['a'], ['b', 'c']]);
    expect(rollout.served).toEqual(['a']);
    const breach = rollout.events.at(-1)?.gates?.[0];
    expect(breach).toMatchObject({ gate: 'failure_rate', verdict: 'fail', bound: 0.1 });
    expect(breach?.measured).toBeGreaterThan(0.1);
    const history = await admin.request('GET', `/v1/revisions/${rollout.rollback_revision}`);
    const entry = history.body as {
      kind: string;
      message: string;
      document: { programs: { w: { env: Record<string, string> } } };
    };
    expect(entry.kind).toBe('rollback');
    expect(entry.message).toMatch(/failure_rate measured [\d.]+ against bound 0\.1/);
    expect(entry.document.programs.w.env.ROLLOUT_FAIL).toBe('0');

    // Node a runs the old config again (a new process); b and c take the rollback revision with the
    // config they already run, and never restarted.
    const a = await eventually(async () => {
      const n = await settled('a');
      return n.applied_revision === rollout.rollback_revision ? n : undefined;
    }, 90_000);
    expect(a.programs.w?.pids).not.toEqual(before.a?.programs.w?.pids);
    for (const node of ['b', 'c'] as const) {
      const n = await eventually(async () => {
        const s = await settled(node);
        return s.applied_revision === rollout.rollback_revision ? s : undefined;
      }, 90_000);
      expect(n.programs.w?.pids).toEqual(before[node]?.programs.w?.pids);
      expect([...(seen[node] ?? [])]).toEqual(before[node]?.programs.w?.pids);
    }
  }, 300_000);
  it('promotes a good change through every wave by itself, never more restarting at once than the budget', async () => {
    // The agents' health windows are 60 s: wait until the failures of the change before left them.
    for (const node of NODES)
      await eventually(
        async () => {
          const ratio = ((await admin.node(node)).programs.w as { health?: { failure_ratio: number | null } })?.health
            ?.failure_ratio;
          return ratio !== undefined && ratio !== null && ratio < 0.02;
        },
        120_000,
        `node ${node}'s failures to leave its health window`,
      );
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await settled(n)] as const)));
    const revision = await patchDefaults(
      {
        programs: { w: { env: { FLAVOUR: 'spicy' } } },
        rollout: {
          waves: [
            { nodes: 1, soak: '3s' },
            { rest: true, soak: '3s' },
          ],
          gates: { failure_rate: { max: 0.1, min_tasks: 5 } },
          restart_budget: { programs: 1 },
        },
      },
      'a good change',
    );
    // A node's program is restarting from when its old pid is gone (or it is not running) until it
    // runs a new pid having applied the revision.
    let worst = 0;
    const restarted = new Set<string>();
    await eventually(
      async () => {
        const now = await Promise.all(NODES.map((node) => admin.node(node)));
        let restarting = 0;
        for (const n of now) {
          const w = n.programs.w;
          const oldPids = before[n.node]?.programs.w?.pids ?? [];
          const changed = (w?.pids ?? []).join() !== oldPids.join() || w?.state !== 'running';
          const done = n.applied_revision === revision && w?.state === 'running' && w.pids.length === 1 && changed;
          if (done) restarted.add(n.node);
          else if (changed) restarting++;
        }
        worst = Math.max(worst, restarting);
        return (await rolloutOf(revision)).state === 'succeeded' && restarted.size === NODES.length;
      },
      120_000,
      'the rollout to succeed on every node',
    ).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}; rollout: ${JSON.stringify(await rolloutOf(revision))}`);
    });
    process.stderr.write(`rollout e2e (b): at most ${worst} program(s) restarting at once (budget 1)\n`);
    expect(worst).toBeLessThanOrEqual(1);
    const done = await rolloutOf(revision);
    expect(done.waves.map((w) => w.nodes)).toEqual([['a'], ['b', 'c']]);
    expect(done.events.map((e) => e.event)).toEqual(['started', 'promoted', 'succeeded']);
    for (const node of NODES) {
      const n = await settled(node);
      expect(n.applied_revision).toBe(revision);
      expect(n.programs.w?.pids).not.toEqual(before[node]?.programs.w?.pids);
    }
  }, 300_000);

  it('resumes a rollout after a center restart, still holding the later waves back', async () => {
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await settled(n)] as const)));
    const revision = await patchDefaults(
      {
        programs: { w: { env: { FLAVOUR: 'mild' } } },
        rollout: {
          waves: [
            { nodes: 1, soak: '15s' },
            { rest: true, soak: '2s' },
          ],
          gates: { failure_rate: { max: 0.1 } },
        },
      },
      'a change across a center restart',
    );
    await eventually(
      async () => (await admin.node('a')).applied_revision === revision || undefined,
      90_000,
      'a applied',
    );
    await center.stop('SIGTERM');
    await startCenter();
    const resumed = await rolloutOf(revision);
    expect(resumed).toMatchObject({ state: 'running', wave: 0, served: ['a'] });
    for (const node of ['b', 'c'] as const) {
      const n = await admin.node(node);
      expect(n.applied_revision).toBe(before[node]?.applied_revision);
      expect(n.programs.w?.pids).toEqual(before[node]?.programs.w?.pids);
    }
    await eventually(
      async () => (await rolloutOf(revision)).state === 'succeeded' || undefined,
      120_000,
      'the rollout to finish',
    );
    for (const node of NODES) {
      const n = await eventually(async () => {
        const s = await settled(node);
        return s.applied_revision === revision ? s : undefined;
      }, 90_000);
      expect(n.programs.w?.pids).not.toEqual(before[node]?.programs.w?.pids);
    }
    expect((await rolloutOf(revision)).events.map((e) => e.event)).toEqual(['started', 'promoted', 'succeeded']);
  }, 300_000);
});
