// celeriac client -> real Python Celery 5.2 worker, on one private redis-server.
import { randomUUID } from 'node:crypto';
import { Celeriac, signature, TaskRevokedError } from '@celeriac/client';
import { RemoteTaskError } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const GET = { timeout: 20_000 };

describe('celeriac client -> Python Celery worker', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let worker: CeleryWorker;
  let app: Celeriac;
  let brokerDb: Redis;
  let pythonConfig: Record<string, unknown>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const routes = { 'tasks.mul': { queue: 'math' }, 'tasks.request_*': { queue: 'math' } };
    pythonConfig = { broker_url: redis.url(0), result_backend: redis.url(1), task_routes: routes };
    worker = await CeleryWorker.start({ config: pythonConfig, queues: ['celery', 'math', 'other'] });
    app = new Celeriac('interop', { broker_url: redis.url(0), result_backend: redis.url(1), task_routes: routes });
    brokerDb = new Redis(redis.url(0));
  });

  afterAll(async () => {
    await app?.close();
    brokerDb?.disconnect();
    await worker?.stop();
    await redis?.stop();
  });

  it('passes positional args and kwargs', async () => {
    const add = await app.sendTask('tasks.add', [2, 3]);
    const kwargs = await app.sendTask('tasks.echo_kwargs', [1], { b: 'x', c: [1, { d: null }] });
    expect(await add.get(GET)).toBe(5);
    expect(add.state).toBe('SUCCESS');
    expect(await kwargs.get(GET)).toEqual({ args: [1], kwargs: { b: 'x', c: [1, { d: null }] } });
  });

  it('throws RemoteTaskError with the Python exception and traceback', async () => {
    const failed = await app.sendTask('tasks.fail');
    const error = await failed.get(GET).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RemoteTaskError);
    const remote = error as RemoteTaskError;
    expect(remote.excType).toBe('ValueError');
    expect(remote.excModule).toBe('builtins');
    expect(remote.excMessage).toEqual(['bad value', 42]);
    expect(remote.traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(remote.traceback).toMatch(/pytasks\.py", line \d+, in fail/);
    expect(failed.state).toBe('FAILURE');

    const custom = await app.sendTask('tasks.fail_custom', ['boom']);
    const returned = (await custom.get({ ...GET, propagate: false })) as RemoteTaskError;
    expect(returned).toBeInstanceOf(RemoteTaskError);
    expect(returned).toMatchObject({ excType: 'InteropError', excModule: 'pytasks', excMessage: ['boom', 7] });
  });

  it('sends msgpack bodies', async () => {
    const value = { s: 'héllo ✓ 漢字', n: [1, 2.5, -3], nested: { t: true, z: null } };
    const result = await app.sendTask('tasks.echo', [value], {}, { serializer: 'msgpack' });
    expect(await result.get(GET)).toEqual(value);
  });

  it('routes by task_routes (glob) and by the queue option', async () => {
    const routed = await app.sendTask('tasks.request_info');
    expect(await routed.get(GET)).toMatchObject({ routing_key: 'math', id: routed.id, root_id: routed.id });
    const byOption = await app.sendTask('tasks.request_info', [], {}, { queue: 'other' });
    expect(await byOption.get(GET)).toMatchObject({ routing_key: 'other' });
    expect(await (await app.sendTask('tasks.mul', [6, 7])).get(GET)).toBe(42);
  });

  it('honours countdown and eta', async () => {
    const sentAt = Date.now() / 1000;
    const countdown = await app.sendTask('tasks.stamp', [], {}, { countdown: 1.5 });
    const eta = await app.sendTask('tasks.stamp', [], {}, { eta: new Date(Date.now() + 1500) });
    const ranAt = (await countdown.get(GET)) as number;
    const etaRanAt = (await eta.get(GET)) as number;
    expect(ranAt - sentAt).toBeGreaterThanOrEqual(1.3);
    expect(etaRanAt - sentAt).toBeGreaterThanOrEqual(1.3);
    // Celery 5.2 misreads 3-digit fractions as microseconds; 6 digits keep the delay whole.
    expect(ranAt - sentAt).toBeLessThan(10);
  });

  it('revokes an expired task', async () => {
    const expired = await app.sendTask('tasks.add', [1, 1], {}, { expires: new Date(Date.now() - 5000) });
    await expect(expired.get(GET)).rejects.toBeInstanceOf(TaskRevokedError);
    expect(expired.state).toBe('REVOKED');
  });

  it('retries with the same id until the task succeeds', async () => {
    const retried = await app.sendTask('tasks.retry_until', [2], { countdown: 0.2 });
    expect(await retried.get(GET)).toBe(2);
  });

  it('runs a link callback and a chain', async () => {
    const linkId = randomUUID();
    const parent = await app.sendTask(
      'tasks.add',
      [2, 3],
      {},
      { link: signature('tasks.mul', [10], {}, { task_id: linkId }) },
    );
    expect(await parent.get(GET)).toBe(5);
    expect(await app.AsyncResult(linkId).get(GET)).toBe(50);

    const chained = await app
      .chain(signature('tasks.add', [1, 2]), signature('tasks.mul', [4]), signature('tasks.add', [5]))
      .applyAsync();
    expect(await chained.get(GET)).toBe(17);
  });

  it('serves lower priority numbers first', async () => {
    // Queue 'prio' has no consumer yet: the messages wait, then one prefetch-1 worker takes them.
    const tags = [9, 6, 3, 0].map((priority) => ({ priority, tag: `p${priority}` }));
    for (const { priority, tag } of tags) {
      await app.sendTask('tasks.order', [tag], {}, { queue: 'prio', priority });
    }
    expect(await brokerDb.llen('prio')).toBe(1);
    expect(await brokerDb.llen('prio\x06\x169')).toBe(1);
    const prioWorker = await CeleryWorker.start({ config: pythonConfig, queues: ['prio'], prefetchMultiplier: 1 });
    try {
      const order = await pollUntil(
        async () => {
          const list = await brokerDb.lrange('interop.order', 0, -1);
          return list.length === tags.length ? list : undefined;
        },
        { what: 'all four priority tasks to run', detail: () => prioWorker.output() },
      );
      expect(order).toEqual(['p0', 'p3', 'p6', 'p9']);
    } finally {
      await prioWorker.stop();
    }
  });
});
