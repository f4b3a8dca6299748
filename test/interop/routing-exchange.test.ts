// Routing by exchange and routing key between real Python Celery 5.2 and celeriac (the built CLI
// worker, and the client from source), on one private redis-server: task_queues in JSON form,
// kombu's _kombu.binding.<exchange> sets, direct and topic exchanges, retries back to their queue.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PythonClientOp, runPythonClient, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const SEP = '\x06\x16';
const LINK_ID = '7d1c6a52-0c55-4e0b-9a7e-3f1f0c0e0001';

describe('routing by exchange and routing key across Python Celery and celeriac', { timeout: 120_000 }, () => {
  let server: RedisServer;
  let redis: Redis;
  let config: Record<string, unknown>;
  const stoppers: (() => Promise<unknown>)[] = [];

  const python = (ops: PythonClientOp[], conf = config) => runPythonClientByRef(ops, conf, { timeoutMs: 90_000 });

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url(0));
    config = {
      broker_url: server.url(0),
      result_backend: server.url(1),
      // Celery's dict form, read alike by Python's Celery and by celeriac.
      task_queues: {
        video: { exchange: 'media', routing_key: 'media.video' },
        all_media: { exchange: 'media_t', exchange_type: 'topic', routing_key: 'media.#' },
      },
      task_routes: {
        'tasks.add': { exchange: 'media', routing_key: 'media.video' },
        'tasks.retry_until': { exchange: 'media', routing_key: 'media.video' },
        'tasks.mul': { exchange: 'media_t', routing_key: 'media.audio' },
      },
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

  it('a Python client routing by exchange reaches a celeriac worker on -Q video, and its retries stay on video', async () => {
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['video', 'all_media'] });
    stoppers.push(() => worker.stop());
    // The worker declared kombu's bindings, as a Python worker does at start.
    expect(await redis.smembers('_kombu.binding.media')).toEqual([`media.video${SEP}${SEP}video`]);
    expect(await redis.smembers('_kombu.binding.media_t')).toEqual([`media.#${SEP}^media\\..*?$${SEP}all_media`]);
    const out = await python([
      { op: 'send', ref: 'add', name: 'tasks.add', args: [2, 3], wait: 30 },
      { op: 'send', ref: 'retry', name: 'tasks.retry_until', args: [2], kwargs: { countdown: 0.2 }, wait: 30 },
      // kombu's topic lookup needs the exchange declared in the sending process: a route naming the queue does it.
      {
        op: 'send',
        ref: 'topic',
        name: 'tasks.echo',
        args: ['t'],
        options: { queue: 'all_media', exchange: 'media_t', routing_key: 'media.podcast' },
        wait: 30,
      },
      // A link callback whose task is routed by exchange: the celeriac worker sends it through `media` too.
      {
        op: 'send',
        ref: 'link',
        name: 'tasks.echo',
        args: [3],
        options: { queue: 'video', link: { name: 'tasks.add', args: [4], options: { task_id: LINK_ID } } },
        wait: 30,
      },
      { op: 'get', ref: 'linked', id: LINK_ID, wait: 30 },
    ]);
    expect(out.get('add')).toMatchObject({ ok: true, state: 'SUCCESS', result: 5 });
    expect(out.get('retry')).toMatchObject({ ok: true, state: 'SUCCESS', result: 2 });
    expect(out.get('topic')).toMatchObject({ ok: true, state: 'SUCCESS', result: 't' });
    expect(out.get('link')).toMatchObject({ ok: true, result: 3 });
    expect(out.get('linked')).toMatchObject({ ok: true, state: 'SUCCESS', result: 7 });
    // Nothing went to a list named after a routing key.
    expect(await redis.exists('media.video', 'media.podcast', 'media')).toBe(0);
  });

  it('a celeriac client routing by exchange reaches a Python worker on -Q video (direct) and -Q all_media (topic)', async () => {
    const worker = await CeleryWorker.start({ config, queues: ['video', 'all_media'] });
    stoppers.push(() => worker.stop());
    const app = new Celeriac('routing', config, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    const add = await app.sendTask('tasks.add', [20, 22]);
    const mul = await app.sendTask('tasks.mul', [6, 7]);
    const retry = await app.sendTask('tasks.retry_until', [1], { countdown: 0.2 });
    expect(await add.get({ timeout: 30_000 })).toBe(42);
    expect(await mul.get({ timeout: 30_000 })).toBe(42);
    expect(await retry.get({ timeout: 30_000 })).toBe(1);
    expect(await redis.exists('media.video', 'media.audio')).toBe(0);
  });

  it('the celeriac client declares the bindings task_queues gives, so messages wait in their queue before any worker runs', async () => {
    const app = new Celeriac('routing', config, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    const sent = await app.sendTask('tasks.add', [1, 1]);
    expect(await redis.llen('video')).toBe(1);
    const [raw] = await redis.lrange('video', 0, 0);
    expect(JSON.parse(raw!).properties.delivery_info).toEqual({ exchange: 'media', routing_key: 'media.video' });
    // A Python worker started afterwards runs it.
    const worker = await CeleryWorker.start({ config, queues: ['video'] });
    stoppers.push(() => worker.stop());
    expect(await sent.get({ timeout: 30_000 })).toBe(2);
  });

  it('a route to an exchange with no matching binding is refused by the celeriac client, naming exchange and routing key', async () => {
    const app = new Celeriac(
      'routing',
      { ...config, task_routes: { 'tasks.add': { exchange: 'media', routing_key: 'media.audio' } } },
      { logger: createLogger({ level: 'silent' }) },
    );
    stoppers.push(() => app.close());
    const error = await app.sendTask('tasks.add', [1, 2]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BROKER_UNROUTABLE', exchange: 'media', routingKey: 'media.audio' });
    expect(String((error as Error).message)).toMatch(/exchange "media".*routing key "media.audio"/);
    expect(await redis.keys('*')).toEqual(['_kombu.binding.media']);
  });

  it('fanout: a broadcast from a Python client, and one from a celeriac client, runs once on every worker of a mixed fleet', async () => {
    const fanout = {
      ...config,
      task_queues: { bcast: { exchange: 'bc', exchange_type: 'fanout' } },
      task_routes: { 'tasks.record': { queue: 'bcast' } },
    };
    const ts1 = await CeleriacWorkerProcess.start({ config: fanout, queues: ['bcast'] });
    stoppers.push(() => ts1.stop());
    const ts2 = await CeleriacWorkerProcess.start({ config: fanout, queues: ['bcast'] });
    stoppers.push(() => ts2.stop());
    const py = await CeleryWorker.start({ config: fanout, queues: ['bcast'] });
    stoppers.push(() => py.stop());
    // Three consumers subscribed to kombu's channel of the binding (the Python one by itself).
    const subscribed = async () => String(await redis.call('CLIENT', 'LIST')).split('psub=1').length - 1;
    const deadline = Date.now() + 20_000;
    while ((await subscribed()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const out = await runPythonClient([{ op: 'send', ref: 'b', name: 'tasks.record', args: ['x'], wait: 30 }], fanout);
    const pyId = out[0]!.id!;
    const app = new Celeriac('routing', fanout, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    const ours = await app.sendTask('tasks.record', ['y']);
    const runs = async (id: string) => Number((await redis.hget('interop.runs', id)) ?? 0);
    const until = Date.now() + 30_000;
    while (((await runs(pyId)) < 3 || (await runs(ours.id)) < 3) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await runs(pyId)).toBe(3);
    expect(await runs(ours.id)).toBe(3);
    expect(await redis.llen('bcast')).toBe(0);
  });

  it('task_create_missing_queues false: a worker asked for a queue not in task_queues refuses to start, saying why', async () => {
    const worker = CeleriacWorkerProcess.spawn({
      config: { ...config, task_create_missing_queues: false },
      queues: ['video', 'unlisted'],
    });
    const exit = await worker.program.exited;
    expect(exit.code).not.toBe(0);
    expect(worker.output()).toContain('"code":"BROKER_QUEUE_NOT_FOUND"');
    expect(worker.output()).toContain('queue \\"unlisted\\" is not defined in task_queues');
    expect(await redis.exists('_kombu.binding.unlisted')).toBe(0);
    // With the default (true) the missing queue is created on its own direct exchange, as Celery does.
    const ok = await CeleriacWorkerProcess.start({ config, queues: ['unlisted'] });
    stoppers.push(() => ok.stop());
    expect(await redis.smembers('_kombu.binding.unlisted')).toEqual([`unlisted${SEP}${SEP}unlisted`]);
  });
});
