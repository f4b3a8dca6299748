import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { RedisStore, type RunningCenter, startCenter } from '../src/index.js';
import { ADMIN_TOKEN, api, captureLogger, until, workerNodeLayer } from './support/center-harness.js';
import { reportWorkersRunning, servedConfig } from './support/worker-status.js';

// Two center replicas on one real Redis: one in this process, one in a child process that the
// test kills with SIGKILL while it drives a rollout.

const T = ADMIN_TOKEN;
const CHILD = path.join(import.meta.dirname, 'support/center-replica.ts');
const NODES = ['n1', 'n2', 'n3'];
const LEASE_MS = 1500;
const TICK_MS = 200;
const DEFAULTS = { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'UTC' } };
let redis: RedisServer;
let child: ChildProcess | undefined;
let childOutput = '';
let childUrl: string;
let local: RunningCenter | undefined;
let localUrl: string;

function startChild(): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, redis.url(5)], {
      env: {
        ...process.env,
        CELERIAC_ADMIN_TOKEN: ADMIN_TOKEN,
        ROLLOUT_LEASE_MS: String(LEASE_MS),
        ROLLOUT_TICK_MS: String(TICK_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the child replica did not start in 30 s: ${err}`)), 30_000);
    proc.stdout?.on('data', (chunk: Buffer) => {
      childOutput += chunk.toString();
      const match = /LISTENING (\S+)/.exec(childOutput);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
  });
}

async function rolloutsOf(url: string) {
  const response = await api(url, 'GET', '/v1/rollouts', { token: T });
  expect(response.status).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return response.body as { driving: boolean; rollouts: Record<string, any>[] };
}

/** The revision `url` serves `node` now. */
async function served(url: string, node: string): Promise<number> {
  return (await servedConfig(url, node)).revision;
}

/** Reports through `url` that `node` applied `revision` with healthy workers. */
async function report(url: string, node: string, revision: number): Promise<void> {
  await reportWorkersRunning(url, node, revision, 1000 + NODES.indexOf(node));
}

/** Writes the defaults' timezone through `url` with `rollout` as the write's policy. */
async function writeDefaults(url: string, timezone: string, rollout: unknown) {
  const current = await api(url, 'GET', '/v1/layers/defaults', { token: T });
  return api(url, 'PUT', '/v1/layers/defaults', {
    token: T,
    headers: { 'if-match': String(current.body.revision) },
    body: { celery: { ...DEFAULTS.celery, timezone }, rollout },
  });
}

/** Both replicas serve every node the same revision. */
async function sameEverywhere(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const node of NODES) {
    const [a, b] = [await served(childUrl, node), await served(localUrl, node)];
    expect(a, `${node} is served the same revision by both replicas`).toBe(b);
    out[node] = a;
  }
  return out;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  childUrl = await startChild();
  // The first replica takes the lease.
  await until(async () => (await rolloutsOf(childUrl)).driving, 10_000, 'the child replica to drive rollouts');
  local = await startCenter({
    listen: '127.0.0.1:0',
    store: new RedisStore({ url: redis.url(5), logger: createLogger({ level: 'silent' }) }),
    adminToken: ADMIN_TOKEN,
    logger: captureLogger([]),
    rolloutTickMs: TICK_MS,
    rolloutLeaseMs: LEASE_MS,
  });
  localUrl = local.url;
  expect((await api(childUrl, 'PUT', '/v1/layers/defaults', { token: T, body: DEFAULTS })).status).toBe(201);
  for (const node of NODES) {
    expect((await api(childUrl, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: workerNodeLayer() })).status).toBe(
      201,
    );
    await until(async () => (await served(localUrl, node)) > 0, 10_000, 'the local replica to see the layers');
    await report(localUrl, node, await served(localUrl, node));
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await local?.close();
  await redis?.stop();
});

describe('rollouts across center replicas on one Redis', () => {
  it('one replica drives; both hold the same nodes back and take operator commands', async () => {
    expect((await rolloutsOf(childUrl)).driving).toBe(true);
    expect((await rolloutsOf(localUrl)).driving).toBe(false);
    const prior = await sameEverywhere();
    // A long-poll held on the replica that does not drive, for a node of the first wave.
    const held = api(localUrl, 'GET', `/v1/nodes/n1/config?after=${prior.n1}&wait=20`, { token: T });
    // Written through the replica that does not drive: the driver learns it from the log.
    const write = await writeDefaults(localUrl, 'Europe/Paris', { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' });
    expect(write.status).toBe(200);
    const revision = write.body.revision as number;
    // From the write on, no replica serves the change to a node of a later wave.
    for (const url of [localUrl, childUrl]) {
      expect(await served(url, 'n2')).toBe(prior.n2);
      expect(await served(url, 'n3')).toBe(prior.n3);
    }
    const woken = await held;
    expect(woken.status).toBe(200);
    expect(woken.body.revision).toBe(revision);
    await until(async () => (await served(childUrl, 'n1')) === revision, 10_000, 'the driver to serve n1');
    expect(await sameEverywhere()).toEqual({ n1: revision, n2: prior.n2, n3: prior.n3 });
    const id = `r${revision}`;
    await until(
      async () => (await rolloutsOf(localUrl)).rollouts[0]?.served?.length === 1,
      10_000,
      'the follower to read the record',
    );
    const [fromChild] = (await rolloutsOf(childUrl)).rollouts;
    const [fromLocal] = (await rolloutsOf(localUrl)).rollouts;
    expect(fromLocal).toMatchObject({ id, state: 'running', wave: 0, served: ['n1'] });
    expect(fromChild).toMatchObject({ id, state: 'running', wave: 0, served: ['n1'] });
    const nodes = (await api(localUrl, 'GET', '/v1/nodes', { token: T })).body.nodes as Record<string, unknown>[];
    expect(nodes.find((n) => n.node === 'n2')).toMatchObject({
      desired_revision: prior.n2,
      latest_revision: revision,
      rollout: { id, wave: 1, served: false },
    });

    // Commands on the follower are carried out by the driver; on the driver, seen by the follower.
    const post = (url: string, command: string) => api(url, 'POST', `/v1/rollouts/${id}/${command}`, { token: T });
    const paused = await post(localUrl, 'pause');
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('paused');
    expect((await rolloutsOf(childUrl)).rollouts[0]?.state).toBe('paused');
    expect((await post(localUrl, 'pause')).status).toBe(409);
    expect((await post(childUrl, 'resume')).body.state).toBe('running');
    await until(async () => (await rolloutsOf(localUrl)).rollouts[0]?.state === 'running', 5000, 'the follower');
    await report(localUrl, 'n1', revision);
    expect((await post(localUrl, 'promote')).status).toBe(200);
    await until(async () => (await served(localUrl, 'n3')) === revision, 10_000, 'wave 2 to be served');
    expect(await sameEverywhere()).toEqual({ n1: revision, n2: revision, n3: revision });

    // An abort through the follower: exactly one rollback revision, every node served it.
    const aborted = await post(localUrl, 'abort');
    expect(aborted.status).toBe(200);
    expect(aborted.body.state).toBe('rolled_back');
    const rollback = aborted.body.rollback_revision as number;
    expect(rollback).toBe(revision + 1);
    await until(async () => (await served(localUrl, 'n1')) === rollback, 10_000, 'the rollback to be served');
    const head = (await api(localUrl, 'GET', '/healthz')).body.revision;
    expect(head).toBe(rollback);
    for (const node of NODES) await report(localUrl, node, rollback);
  }, 40_000);

  it('a killed driver is replaced within the lease time and its rollout resumes where it was', async () => {
    const write = await writeDefaults(childUrl, 'Asia/Tokyo', {
      waves: [{ nodes: 1 }, { rest: true, soak: '300ms' }],
      soak: '1h',
    });
    const revision = write.body.revision as number;
    const id = `r${revision}`;
    await until(
      async () => (await rolloutsOf(localUrl)).rollouts[0]?.served?.includes('n1') === true,
      10_000,
      'n1 to be served',
    );
    const prior = await sameEverywhere();
    expect(prior.n1).toBe(revision);
    expect(prior.n2).toBeLessThan(revision);

    child?.kill('SIGKILL');
    const killedAt = Date.now();
    await until(async () => (await rolloutsOf(localUrl)).driving, 15_000, 'the local replica to take over');
    const tookMs = Date.now() - killedAt;
    // The lease plus a couple of ticks and a loaded machine's slack.
    expect(tookMs).toBeLessThan(LEASE_MS + 3000);
    // Resumed at its wave: still holding the later nodes back.
    const [resumed] = (await rolloutsOf(localUrl)).rollouts;
    expect(resumed).toMatchObject({ id, state: 'running', wave: 0, served: ['n1'] });
    expect(await served(localUrl, 'n2')).toBe(prior.n2);

    await report(localUrl, 'n1', revision);
    expect((await api(localUrl, 'POST', `/v1/rollouts/${id}/promote`, { token: T })).status).toBe(200);
    await until(async () => (await served(localUrl, 'n2')) === revision, 10_000, 'the last wave to be served');
    for (const node of ['n2', 'n3']) await report(localUrl, node, revision);
    await until(async () => (await rolloutsOf(localUrl)).rollouts[0]?.state === 'succeeded', 10_000, 'success');
  }, 40_000);

  it('fences the records: only the lease holder writes them, and a lost lease cannot be used', async () => {
    const logger = createLogger({ level: 'silent' });
    const one = new RedisStore({ url: redis.url(6), logger });
    const two = new RedisStore({ url: redis.url(6), logger });
    await one.start();
    await two.start();
    try {
      expect(await one.acquireRolloutLease('one', 300)).toBe(true);
      expect(await two.acquireRolloutLease('two', 300)).toBe(false);
      expect(await two.writeRollouts('two', '{"rollouts":[]}')).toBe(false);
      expect(await one.writeRollouts('one', '{"rollouts":[1]}')).toBe(true);
      await one.queueRolloutCommand('{"id":"c"}');
      expect(await two.takeRolloutCommands('two')).toEqual([]);
      await until(async () => two.acquireRolloutLease('two', 5000), 5000, 'the lease to expire');
      expect(await one.writeRollouts('one', '{"rollouts":[2]}')).toBe(false);
      expect(await one.acquireRolloutLease('one', 300)).toBe(false);
      expect((await two.readRollouts()).records).toBe('{"rollouts":[1]}');
      expect(await two.takeRolloutCommands('two')).toEqual(['{"id":"c"}']);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
