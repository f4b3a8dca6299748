// broker_transport_options shared by real Python Celery 5.2 (kombu 5.2.4) and celeriac on one
// private redis-server: global_keyprefix, sep, priority_steps and queue_order_strategy, each way.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const TRANSPORT = {
  global_keyprefix: 'tenant1:',
  sep: ':',
  priority_steps: [0, 2, 4, 6, 8],
  queue_order_strategy: 'priority',
  visibility_timeout: 600,
};

describe('broker_transport_options across Python Celery and celeriac', { timeout: 120_000 }, () => {
  let server: RedisServer;
  let redis: Redis;
  let config: Record<string, unknown>;
  const stoppers: (() => Promise<unknown>)[] = [];

  const python = (ops: PythonClientOp[]) => runPythonClientByRef(ops, config, { timeoutMs: 90_000 });

  /** Broker keys that are not under the prefix (the result backend is on db 1 and has none). */
  const unprefixed = async () => (await redis.keys('*')).filter((k) => !k.startsWith('tenant1:'));

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url(0));
    config = {
      broker_url: server.url(0),
      result_backend: server.url(1),
      broker_transport_options: TRANSPORT,
      task_routes: { 'tasks.mul': { queue: 'math' } },
    };
  });

  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
    await redis.flushall();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('a Python client with the options reaches a celeriac worker with the same options (priorities, retries)', async () => {
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['celery', 'math'] });
    stoppers.push(() => worker.stop());
    const out = await python([
      { op: 'send', ref: 'add', name: 'tasks.add', args: [2, 3], options: { priority: 5 }, wait: 30 },
      { op: 'send', ref: 'mul', name: 'tasks.mul', args: [6, 7], wait: 30 },
      { op: 'send', ref: 'retry', name: 'tasks.retry_until', args: [2], kwargs: { countdown: 0.2 }, wait: 30 },
    ]);
    expect(out.get('add')).toMatchObject({ ok: true, result: 5 });
    expect(out.get('mul')).toMatchObject({ ok: true, result: 42 });
    expect(out.get('retry')).toMatchObject({ ok: true, result: 2 });
    // kombu and celeriac both kept to the prefix: bindings, unacked index, everything of the broker db.
    const keys = await redis.keys('*');
    expect(keys).toContain('tenant1:_kombu.binding.celery');
    expect(keys).toContain('tenant1:_kombu.binding.math');
    expect(await redis.smembers('tenant1:_kombu.binding.math')).toEqual(['math::math']);
    expect(await unprefixed()).toEqual([]);
  });

  it('a celeriac client with the options reaches a Python worker with the same options, priorities in kombu order', async () => {
    const app = new Celeriac('opts', config, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    // Sent before any worker runs: they wait in the prefixed priority lists kombu reads.
    const priorities = [9, 0, 5, 3, 1];
    const results = [];
    for (const p of priorities) results.push(await app.sendTask('tasks.stamp', [], {}, { priority: p }));
    expect((await redis.keys('tenant1:celery*')).sort()).toEqual([
      'tenant1:celery',
      'tenant1:celery:2',
      'tenant1:celery:4',
      'tenant1:celery:8',
    ]);
    const worker = await CeleryWorker.start({ config, queues: ['celery'], pool: 'solo', prefetchMultiplier: 1 });
    stoppers.push(() => worker.stop());
    const stamps = await Promise.all(results.map((r) => r.get({ timeout: 30_000 }) as Promise<number>));
    // The Python worker (prefetch 1, solo) ran them lowest step first: 0 and 1 (step 0), 3 (step 2), 5 (step 4), 9 (step 8).
    const order = priorities.map((p, i) => ({ p, at: stamps[i]! })).sort((a, b) => a.at - b.at);
    expect(order.map((o) => o.p)).toEqual([0, 1, 3, 5, 9]);
    expect(await unprefixed()).toEqual([]);
  });

  it('queue_order_strategy priority: a celeriac worker empties its first queue before the next, as kombu does', async () => {
    const app = new Celeriac('opts', config, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await app.sendTask('tasks.stamp', [], {}, { queue: 'second' }));
    for (let i = 0; i < 4; i++) sent.push(await app.sendTask('tasks.stamp', [], {}, { queue: 'first' }));
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['first', 'second'], concurrency: 1 });
    stoppers.push(() => worker.stop());
    const stamps = await Promise.all(sent.map((r) => r.get({ timeout: 30_000 }) as Promise<number>));
    const lastFirst = Math.max(...stamps.slice(4));
    const firstSecond = Math.min(...stamps.slice(0, 4));
    expect(lastFirst).toBeLessThanOrEqual(firstSecond);
  });
});
