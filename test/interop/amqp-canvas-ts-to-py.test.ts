// A celeriac client and a Python Celery 5.2 worker on one RabbitMQ vhost, results on a Redis of the
// test's own: expires, priority (x-max-priority, higher first), retry with countdown, chain, group,
// chord (Redis join), msgpack and a route to a second queue. The reverse direction is
// amqp-canvas-py-to-ts.test.ts.
import { Celeriac, chord, GroupResult, group, signature, TaskRevokedError } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleryWorker } from '../support/celery-worker.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';
import { amqpCanvasSettings, priorityRunOrder } from './amqp-canvas-support.js';

const GET = { timeout: 30_000 };

describe('celeriac client -> Python worker on RabbitMQ', { timeout: 120_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let records: Redis;
  let config: Record<string, unknown>;
  let py: CeleryWorker;
  let app: Celeriac;
  const onPy = (name: string, args: unknown[] = [], queue = 'to-py') => signature(name, args, {}, { queue });

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    config = amqpCanvasSettings(vhost, redis);
    records = new Redis(redis.url(2));
    py = await CeleryWorker.start({
      config: { ...config, imports: ['canvas_tasks'] },
      queues: ['to-py', 'py-routed'],
      env: { PYTASKS_RECORD_URL: redis.url(2), PYTASKS_WORKER_TAG: 'python' },
    });
    app = new Celeriac('amqp-ts-client', {
      ...config,
      task_default_queue: 'to-py',
      task_routes: { 'tasks.request_info': { queue: 'py-routed' } },
    });
  });

  afterAll(async () => {
    await app?.close();
    records?.disconnect();
    await py?.stop();
    await redis?.stop();
    await vhost?.delete();
  });

  it('an expired task is REVOKED by the Python worker', async () => {
    const expired = await app.sendTask('tasks.add', [1, 1], {}, { expires: new Date(Date.now() - 5000) });
    await expect(expired.get(GET)).rejects.toBeInstanceOf(TaskRevokedError);
    expect(expired.state).toBe('REVOKED');
  });

  it('retries with its countdown under the same id, then succeeds', async () => {
    const sentAt = Date.now();
    const retried = await app.sendTask('tasks.retry_until', [2], { countdown: 1 });
    expect(await retried.get(GET)).toBe(2);
    // Two retries of 1 s each: not before 2 s (a small margin for the clocks).
    expect(Date.now() - sentAt).toBeGreaterThan(1_800);
  });

  it('msgpack bodies round-trip', async () => {
    const value = { n: 1, s: 'é', l: [true, null], f: 1.5 };
    const r = await app.sendTask('tasks.echo', [value], {}, { serializer: 'msgpack' });
    expect(await r.get(GET)).toEqual(value);
  });

  it('a route sends the task to its second queue (its own direct exchange and routing key)', async () => {
    const r = await app.sendTask('tasks.request_info');
    expect(await r.get(GET)).toMatchObject({ id: r.id, routing_key: 'py-routed' });
    expect(await vhost.queueInfo('py-routed')).toMatchObject({ durable: true });
  });

  it('chain, group and chord on Python tasks', async () => {
    const chained = await app
      .chain(onPy('tasks.add', [1, 2]), onPy('tasks.mul', [4]), onPy('tasks.add', [5]))
      .applyAsync();
    const grouped = await group(
      [1, 2, 3].map((i) => onPy('tasks.add', [i, i])),
      { app },
    ).applyAsync();
    const chorded = await chord(
      [0, 1, 2, 3, 4].map((i) => onPy('tasks.add', [i, i])),
      onPy('tasks.tsum'),
      {
        app,
      },
    ).applyAsync();
    expect(grouped).toBeInstanceOf(GroupResult);
    expect(await chained.get(GET)).toBe(17);
    expect(await grouped.get(GET)).toEqual([2, 4, 6]);
    expect(await chorded.get(GET)).toBe(20);
  });

  it('serves higher priorities first from an x-max-priority queue', async () => {
    // Queue 'prio' has no consumer yet: the messages wait, then one prefetch-1 worker takes them.
    await records.del('interop.order');
    for (const priority of [0, 3, 9, 6]) {
      await app.sendTask('tasks.order', [`p${priority}`], {}, { queue: 'prio', priority });
    }
    expect(await vhost.queueInfo('prio')).toMatchObject({ arguments: expect.stringMatching(/x-max-priority.*10/) });
    expect(await vhost.queueCounts('prio')).toEqual({ ready: 4, unacked: 0 });
    const prio = await CeleryWorker.start({
      config,
      queues: ['prio'],
      prefetchMultiplier: 1,
      env: { PYTASKS_RECORD_URL: redis.url(2) },
    });
    try {
      const order = await priorityRunOrder(records, () => prio.output());
      expect(order).toEqual(['p9', 'p6', 'p3', 'p0']);
    } finally {
      await prio.stop();
    }
  });
});
