// A Python Celery 5.2 client (kombu's pyamqp transport) and a celeriac worker on one RabbitMQ vhost,
// results on a Redis of the test's own: expires, priority (x-max-priority, higher first), retry with
// countdown, chain, group, chord (Redis join), msgpack and a route to a second queue. The reverse
// direction is amqp-canvas-ts-to-py.test.ts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';
import { amqpCanvasSettings, priorityRunOrder } from './amqp-canvas-support.js';
import { CANVAS_TASKS_MODULE, runCanvasClient } from './canvas-support.js';

describe('Python client -> celeriac worker on RabbitMQ', { timeout: 120_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let records: Redis;
  let backend: Redis;
  let config: Record<string, unknown>;
  let clientConfig: Record<string, unknown>;
  let ts: CeleriacWorkerProcess;
  const env = () => ({ INTEROP_RECORD_URL: redis.url(2), PYTASKS_RECORD_URL: redis.url(2) });
  const run = (ops: PythonClientOp[]) => runPythonClientByRef(ops, clientConfig, { env: env(), timeoutMs: 90_000 });

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    config = amqpCanvasSettings(vhost, redis);
    clientConfig = {
      ...config,
      task_default_queue: 'to-ts',
      task_routes: { 'tasks.record': { queue: 'ts-routed' } },
    };
    records = new Redis(redis.url(2));
    backend = new Redis(redis.url(1));
    // The worker reads the same celeryconfig: chain steps and chord bodies it sends follow its defaults.
    ts = await CeleriacWorkerProcess.start({
      config: clientConfig,
      module: CANVAS_TASKS_MODULE,
      queues: ['to-ts', 'ts-routed'],
      concurrency: 8,
      env: { ...env(), INTEROP_WORKER_TAG: 'celeriac' },
    });
  });

  afterAll(async () => {
    records?.disconnect();
    backend?.disconnect();
    await ts?.stop();
    await redis?.stop();
    await vhost?.delete();
  });

  it('expires, retry with countdown, msgpack, a route to a second queue, and a chain', async () => {
    const out = await run([
      { op: 'send', ref: 'expired', name: 'tasks.add', args: [1, 1], options: { expires_in: -5 }, wait: 30 },
      { op: 'send', ref: 'retry', name: 'tasks.retry_until', args: [2], kwargs: { countdown: 1 }, wait: 30 },
      {
        op: 'send',
        ref: 'msgpack',
        name: 'tasks.echo',
        args: [{ n: 1, s: 'é', l: [true, null], f: 1.5 }],
        options: { serializer: 'msgpack' },
        wait: 30,
      },
      // Routed by task_routes to `ts-routed`; the default queue `to-ts` is also consumed, `celery` is not.
      { op: 'send', ref: 'routed', name: 'tasks.record', wait: 30 },
      {
        op: 'chain',
        ref: 'chain',
        steps: [
          { name: 'tasks.add', args: [1, 2] },
          { name: 'tasks.mul', args: [4] },
          { name: 'tasks.add', args: [5] },
        ],
        wait: 30,
      },
    ]);
    expect(out.get('expired'), ts.output()).toMatchObject({
      ok: false,
      state: 'REVOKED',
      exc_type: 'TaskRevokedError',
    });
    const retry = out.get('retry');
    expect(retry).toMatchObject({ ok: true, state: 'SUCCESS', result: 2 });
    // Two retries with a countdown of 1 s: stored no earlier than ~2 s after the send.
    const meta = JSON.parse((await backend.get(`celery-task-meta-${retry?.id}`)) as string) as { date_done: string };
    const doneAt = Date.parse(`${meta.date_done.replace(/Z$/, '')}Z`) / 1000;
    expect(doneAt - (retry?.sent_at as number)).toBeGreaterThan(1.8);
    expect(out.get('msgpack')).toMatchObject({ ok: true, result: { n: 1, s: 'é', l: [true, null], f: 1.5 } });
    const routed = out.get('routed');
    expect(routed).toMatchObject({ ok: true, result: 'celeriac' });
    expect(await records.hget('interop.runs', routed?.id as string)).toBe('1');
    expect(await vhost.queueInfo('ts-routed')).toMatchObject({ durable: true });
    const chain = out.get('chain');
    expect(chain).toMatchObject({ ok: true, result: 17 });
    expect(chain?.ids).toHaveLength(3);
  });

  it('group and chord (Redis join) on celeriac tasks', async () => {
    const add = (i: number) => ({ name: 'tasks.add', args: [i, i] });
    const [g, c] = await runCanvasClient(
      [
        { op: 'group', ref: 'group', tasks: [1, 2, 3].map(add), wait: 30 },
        { op: 'chord', ref: 'chord', header: [0, 1, 2, 3, 4].map(add), body: { name: 'tasks.tsum' }, wait: 30 },
      ],
      clientConfig,
    );
    expect(g, ts.output()).toMatchObject({ ok: true, result: [2, 4, 6], completed: 3 });
    expect(c, ts.output()).toMatchObject({ ok: true, state: 'SUCCESS', result: 20 });
    // Celery's join counters are gone once the body was sent.
    expect(await backend.keys(`celery-taskset-meta-${c?.group_id}*`)).toEqual([]);
  });

  it('serves higher priorities first from an x-max-priority queue', async () => {
    // Queue 'prio' has no consumer yet: the messages wait, then one worker with a window of 1 takes them.
    await records.del('interop.order');
    await run(
      [0, 3, 9, 6].map((p) => ({
        op: 'send' as const,
        name: 'tasks.order',
        args: [`p${p}`],
        options: { queue: 'prio', priority: p },
      })),
    );
    expect(await vhost.queueInfo('prio')).toMatchObject({ arguments: expect.stringMatching(/x-max-priority.*10/) });
    expect(await vhost.queueCounts('prio')).toEqual({ ready: 4, unacked: 0 });
    const prio = await CeleriacWorkerProcess.start({
      config: { ...config, worker_prefetch_multiplier: 1 },
      queues: ['prio'],
      concurrency: 1,
      env: env(),
    });
    try {
      const order = await priorityRunOrder(records, () => prio.output());
      expect(order).toEqual(['p9', 'p6', 'p3', 'p0']);
    } finally {
      await prio.stop();
    }
  });
});
