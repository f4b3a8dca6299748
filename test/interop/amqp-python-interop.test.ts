// Celery 5.2 (kombu's pyamqp transport) and Celeriac on one RabbitMQ vhost, results on Redis:
// Python client -> celeriac worker, celeriac client -> Python worker, a mixed fleet on one queue.
import { Celeriac } from '@celeriac/client';
import { RemoteTaskError } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { runPythonClient, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';

const GET = { timeout: 30_000 };
const FLEET_TOTAL = 400;

describe('Celery and celeriac on RabbitMQ (amqp://)', { timeout: 180_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let config: Record<string, unknown>;
  let records: Redis;
  let tsWorker: CeleriacWorkerProcess;
  let pyWorker: CeleryWorker;
  let app: Celeriac;
  const env = () => ({ PYTASKS_RECORD_URL: redis.url(2), INTEROP_RECORD_URL: redis.url(2) });

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    config = { broker_url: vhost.url(), result_backend: redis.url(1), accept_content: ['json', 'msgpack'] };
    records = new Redis(redis.url(2));
    [tsWorker, pyWorker] = await Promise.all([
      CeleriacWorkerProcess.start({ config, queues: ['to-ts', 'fleet'], concurrency: 8, env: env() }),
      CeleryWorker.start({ config, queues: ['to-py', 'fleet'], env: { ...env(), PYTASKS_WORKER_TAG: 'python' } }),
    ]);
    app = new Celeriac('amqp-interop', { ...config, task_routes: { '*': { queue: 'to-py' } } });
  });

  afterAll(async () => {
    await app?.close();
    records?.disconnect();
    await Promise.all([tsWorker?.stop(), pyWorker?.stop()]);
    await redis?.stop();
    await vhost?.delete();
  });

  it('declares the queues as Celery does: durable, bound to their direct exchange', async () => {
    for (const queue of ['to-ts', 'to-py', 'fleet']) {
      expect(await vhost.queueInfo(queue)).toMatchObject({ durable: true });
    }
  });

  it('Python client -> celeriac worker: args, kwargs, an exception, msgpack, countdown', async () => {
    const out = await runPythonClientByRef(
      [
        { op: 'send', ref: 'args', name: 'tasks.add', args: [2, 3], options: { queue: 'to-ts' }, wait: 30 },
        {
          op: 'send',
          ref: 'kwargs',
          name: 'tasks.add',
          kwargs: { a: 2, b: 40 },
          options: { queue: 'to-ts' },
          wait: 30,
        },
        {
          op: 'send',
          ref: 'echo',
          name: 'tasks.echo_kwargs',
          args: [1],
          kwargs: { b: 'x', c: [1, null] },
          options: { queue: 'to-ts' },
          wait: 30,
        },
        { op: 'send', ref: 'fail', name: 'tasks.fail', options: { queue: 'to-ts' }, wait: 30 },
        {
          op: 'send',
          ref: 'msgpack',
          name: 'tasks.echo',
          args: [{ n: 1, s: 'é', l: [true, null] }],
          options: { queue: 'to-ts', serializer: 'msgpack' },
          wait: 30,
        },
        { op: 'send', ref: 'countdown', name: 'tasks.stamp', options: { queue: 'to-ts', countdown: 3 }, wait: 30 },
      ],
      config,
      { env: env(), timeoutMs: 90_000 },
    );
    expect(out.get('args')).toMatchObject({ ok: true, state: 'SUCCESS', result: 5 });
    expect(out.get('kwargs')).toMatchObject({ ok: true, result: 42 });
    expect(out.get('echo')).toMatchObject({ ok: true, result: { args: [1], kwargs: { b: 'x', c: [1, null] } } });
    const fail = out.get('fail');
    expect(fail).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'ValueError', exc_args: ['bad value', 42] });
    expect(fail?.traceback).toMatch(/Traceback \(most recent call last\):/);
    expect(out.get('msgpack')).toMatchObject({ ok: true, result: { n: 1, s: 'é', l: [true, null] } });
    const countdown = out.get('countdown');
    expect(countdown).toMatchObject({ ok: true, state: 'SUCCESS' });
    // Ran no earlier than its countdown (3 s) after it was sent; a small margin for clock reading.
    expect((countdown?.result as number) - (countdown?.sent_at as number)).toBeGreaterThan(2.5);
  });

  it('celeriac client -> Python worker: args, kwargs, an exception, countdown', async () => {
    const add = await app.sendTask('tasks.add', [2, 3]);
    const kwargs = await app.sendTask('tasks.echo_kwargs', [1], { b: 'x', c: [1, { d: null }] });
    const failed = await app.sendTask('tasks.fail');
    const sentAt = Date.now() / 1000;
    const later = await app.sendTask('tasks.stamp', [], {}, { countdown: 3 });
    expect(await add.get(GET)).toBe(5);
    expect(await kwargs.get(GET)).toEqual({ args: [1], kwargs: { b: 'x', c: [1, { d: null }] } });
    const error = await failed.get(GET).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect((error as RemoteTaskError).excType).toBe('ValueError');
    expect((error as RemoteTaskError).excMessage).toEqual(['bad value', 42]);
    expect((error as RemoteTaskError).traceback).toMatch(/pytasks\.py", line \d+, in fail/);
    const ranAt = (await later.get(GET)) as number;
    expect(ranAt - sentAt).toBeGreaterThan(2.5);
  });

  it(`mixed fleet: ${FLEET_TOTAL} tasks on one queue, half from each client, each run exactly once`, async () => {
    await records.del('interop.runs');
    const half = FLEET_TOTAL / 2;
    const pythonSent = runPythonClient(
      [{ op: 'send_many', name: 'tasks.record', count: half, options: { queue: 'fleet' } }],
      config,
      { env: env(), timeoutMs: 90_000 },
    );
    const tsResults = [];
    for (let i = 0; i < half; i += 50) {
      tsResults.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, () => app.sendTask('tasks.record', [], {}, { queue: 'fleet' })),
        )),
      );
    }
    const [pyLine] = await pythonSent;
    const ids = [...tsResults.map((r) => r.id), ...(pyLine?.ids ?? [])];
    expect(new Set(ids).size).toBe(FLEET_TOTAL);
    await pollUntil(async () => ((await records.hlen('interop.runs')) >= FLEET_TOTAL ? true : undefined), {
      what: `${FLEET_TOTAL} tasks run`,
      timeoutMs: 90_000,
    });
    const runs = await records.hgetall('interop.runs');
    expect(Object.keys(runs).sort()).toEqual([...ids].sort());
    expect(Object.values(runs).every((n) => n === '1')).toBe(true);
    const tags = await Promise.all(tsResults.map((r) => r.get(GET)));
    // Both workers took part (each holds a prefetch window of the queue).
    expect(new Set(tags).size).toBe(2);
    // Every message acked (a result is stored before its ack goes out, so the last acks may trail).
    const settled = async () => {
      const c = await vhost.queueCounts('fleet');
      return c?.ready === 0 && c.unacked === 0 ? true : undefined;
    };
    await pollUntil(settled, { what: 'queue fleet empty and acked', timeoutMs: 15_000, intervalMs: 500 });
    expect(await vhost.queueCounts('fleet')).toEqual({ ready: 0, unacked: 0 });
  });
});
