import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { RedisStore, type RunningCenter, startCenter } from '../src/index.js';
import { SharedHealthHistory } from '../src/shared-health-history.js';
import { ADMIN_TOKEN, api, captureLogger, until } from './support/center-harness.js';
import { reportWorkersRunning } from './support/worker-status.js';

// Health history shared by center replicas on one real Redis (shared-health-history.ts): an agent
// reports to one replica, a console on another sees its points; a replica started later loads the
// last hour from Redis.

let redis: RedisServer;
const centers: RunningCenter[] = [];

async function startReplica(): Promise<RunningCenter> {
  const logger = captureLogger([]);
  const center = await startCenter({
    listen: '127.0.0.1:0',
    store: new RedisStore({ url: redis.url(3), logger }),
    adminToken: ADMIN_TOKEN,
    logger,
    healthStepS: 1,
  });
  centers.push(center);
  return center;
}

/** A health summary of `tasksPerS` tasks a second, `failedPerS` of them failing, p95 `p95`. */
function health(tasksPerS: number, failedPerS: number, p95: number): Record<string, unknown> {
  const succeeded = tasksPerS - failedPerS;
  return {
    source: 'health_file',
    window_s: 10,
    counts: {
      received: tasksPerS * 10,
      succeeded: succeeded * 10,
      failed: failedPerS * 10,
      retried: 0,
      rejected: 0,
      revoked: 0,
    },
    rates: { received: tasksPerS, succeeded, failed: failedPerS, retried: 0, rejected: 0, revoked: 0 },
    failure_ratio: failedPerS / tasksPerS,
    runtime_p50_s: p95 / 3,
    runtime_p95_s: p95,
    queue_wait_p50_s: 0.001,
    queue_wait_p95_s: 0.002,
    restarts_5m: 0,
    crash_loop: false,
  };
}

async function historyOf(url: string, node?: string) {
  const query = node ? `&node=${node}` : '';
  const answer = await api(url, 'GET', `/v1/health/history?window=600${query}`, { token: ADMIN_TOKEN });
  expect(answer.status, answer.text).toBe(200);
  return answer.body;
}

beforeAll(async () => {
  redis = await RedisServer.start();
}, 30_000);

afterAll(async () => {
  for (const center of centers) await center.close();
  await redis?.stop();
});

describe('health history with the Redis store', () => {
  it('shows on replica B the reports sent to replica A, and a replica started later loads them', async () => {
    const a = await startReplica();
    const b = await startReplica();
    await reportWorkersRunning(a.url, 'alpha', 0, 101, health(20, 2, 0.3));
    await reportWorkersRunning(b.url, 'beta', 0, 102, health(10, 0, 0.1));

    // Each replica sees both nodes: its own report and the other's, pushed through Redis.
    for (const url of [a.url, b.url]) {
      await until(async () => (await historyOf(url)).nodes.join() === 'alpha,beta', 10_000, `both nodes on ${url}`);
      const body = await historyOf(url);
      expect(body.scope).toBe('shared');
      const last = body.fleet.at(-1);
      expect(last.nodes).toBe(2);
      expect(last.tasks_per_s).toBeCloseTo(30, 4);
    }
    const alphaOnB = (await historyOf(b.url, 'alpha')).node.points;
    expect(alphaOnB).toHaveLength(1);
    expect(alphaOnB[0]).toMatchObject({ tasks_per_s: 20, failure_ratio: 0.1, runtime_p95_s: 0.3 });

    // More reports of alpha to A, one second apart: B gets each of them as a point.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await reportWorkersRunning(a.url, 'alpha', 0, 101, health(20 + i, 2, 0.3));
    }
    await until(
      async () => (await historyOf(b.url, 'alpha')).node.points.length >= 4,
      10_000,
      'four points of alpha on replica B',
    );
    expect((await historyOf(b.url, 'alpha')).node.points.at(-1).tasks_per_s).toBe(22);

    // A replica started now loads every replica's points of the window from Redis.
    const c = await startReplica();
    const onC = await historyOf(c.url, 'alpha');
    expect(onC.nodes).toEqual(['alpha', 'beta']);
    expect(onC.node.points.map((p: { tasks_per_s: number }) => p.tasks_per_s)).toEqual(
      (await historyOf(a.url, 'alpha')).node.points.map((p: { tasks_per_s: number }) => p.tasks_per_s),
    );
  }, 60_000);

  it('keeps one point per node and step in Redis, expiring after the window', async () => {
    const a = centers[0] as RunningCenter;
    const client = new Redis(redis.url(3));
    try {
      // Many reports within one second: the step keeps one member, the newest report's.
      const second = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 5; i++) await reportWorkersRunning(a.url, 'gamma', 0, 103, health(5 + i, 0, 0.2));
      await until(async () => (await client.zcard('celeriac:center:health:gamma')) > 0, 5000, 'gamma written');
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const members = await client.zrangebyscore('celeriac:center:health:gamma', '-inf', '+inf', 'WITHSCORES');
      // All five may straddle a second boundary: then two steps, never five members.
      const steps = members.length / 2;
      expect(steps).toBeGreaterThanOrEqual(1);
      expect(steps).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - second + 1);
      expect(steps).toBeLessThan(5);
      expect(JSON.parse(members.at(-2) as string)[1]).toBe(9);
      expect(await client.pttl('celeriac:center:health:gamma')).toBeGreaterThan(3_000_000);
      expect(await client.zscore('celeriac:center:health-nodes', 'gamma')).not.toBeNull();
    } finally {
      client.disconnect();
    }
  }, 30_000);

  it('shares one flush of 10,000 nodes (scripts of 500 nodes in one pipeline) and loads them all at start', async () => {
    const logger = captureLogger([]);
    const stores = [0, 1, 2].map(() => new RedisStore({ url: redis.url(4), logger }));
    for (const store of stores) await store.start();
    const [writer, reader, late] = stores as [RedisStore, RedisStore, RedisStore];
    const a = new SharedHealthHistory(writer, logger, { flushMs: 60_000 });
    const b = new SharedHealthHistory(reader, logger, { flushMs: 60_000 });
    let c: SharedHealthHistory | undefined;
    try {
      await a.start();
      await b.start();
      const now = Date.now();
      const report = (i: number) =>
        ({ programs: { w: { health: { rates: { succeeded: i % 50, failed: 1 }, runtime_p95_s: 0.2 } } } }) as never;
      for (let i = 0; i < 10_000; i++) a.record(`node-${i}`, report(i), now);
      const started = performance.now();
      await a.flush();
      const flushMs = performance.now() - started;
      // Generous: 0.3 s on an idle machine, 12 s seen with the whole suite on 2 cores.
      await until(() => b.size === 10_000, 60_000, 'all 10,000 nodes on the other replica');
      const arrivedMs = performance.now() - started;
      expect(b.series('node-4321', 60, now)[0]).toMatchObject({ tasks_per_s: 22 });
      const loading = performance.now();
      c = new SharedHealthHistory(late, logger, { flushMs: 60_000 });
      await c.start();
      const loadMs = performance.now() - loading;
      expect(c.size).toBe(10_000);
      expect(c.series('node-9999', 60, now)[0]).toMatchObject({ tasks_per_s: 50 });
      console.info(
        `health-replicas: flush of 10,000 nodes ${flushMs.toFixed(0)} ms, on the other replica after ${arrivedMs.toFixed(0)} ms, loaded at start in ${loadMs.toFixed(0)} ms`,
      );
    } finally {
      for (const history of [a, b, c]) await history?.close();
      for (const store of stores) await store.close();
    }
  }, 120_000);
});
