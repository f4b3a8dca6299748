import { BrokerUnavailableError } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';
import { EagerResult } from '../src/eager-result.js';
import { ApplyOptionsError } from '../src/errors.js';

/** A logger whose lines the test reads. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    pretty: false,
    destination: { write: (text: string) => lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger, events: (name: string) => lines.filter((l) => l.event === name) };
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e,
  );
}

class Boom extends Error {
  constructor(readonly detail: number) {
    super(`boom ${detail}`);
    this.name = 'Boom';
  }
}

describe('task_always_eager / task_eager_propagates', () => {
  // No Redis listens here: an eager call must not need the broker or the backend.
  let nowhere: string;
  beforeAll(async () => {
    nowhere = `redis://127.0.0.1:${await freePort()}/0`;
  });

  it('delay/applyAsync run the task here and give a ready EagerResult; nothing is sent', async () => {
    const app = new Celeriac('eager', { broker_url: nowhere, result_backend: nowhere, task_always_eager: true });
    const calls: unknown[][] = [];
    const add = app.task(
      't.add',
      (a: number, b = 10) => {
        calls.push([a, b]);
        return a + b;
      },
      { params: ['a', 'b'] },
    );
    const r = await add.delay(2, 3);
    expect(r).toBeInstanceOf(EagerResult);
    expect(r.state).toBe('SUCCESS');
    expect(await r.ready()).toBe(true);
    expect(await r.get()).toBe(5);
    const kw = await add.applyAsync([1], { b: 41 }, { task_id: 'fixed-id', countdown: 60 });
    expect(kw.id).toBe('fixed-id');
    expect(await kw.get()).toBe(42);
    const many = await add.applyMany([
      [1, 1],
      [2, 2],
    ]);
    expect(await Promise.all(many.map((m) => m.get()))).toEqual([2, 4]);
    expect(calls).toEqual([
      [2, 3],
      [1, 41],
      [1, 1],
      [2, 2],
    ]);
    await app.close();
  });

  it('a failure is a FAILURE result whose get() throws the task error itself; propagate:false returns it', async () => {
    const app = new Celeriac('eager', { broker_url: nowhere, result_backend: nowhere, task_always_eager: true });
    const fail = app.task('t.fail', async (n: number) => {
      throw new Boom(n);
    });
    const r = await fail.delay(7);
    expect(r.state).toBe('FAILURE');
    expect(r.result).toMatchObject({ exc_type: 'Boom' });
    const error = await failureOf(r.get());
    expect(error).toBeInstanceOf(Boom);
    expect((error as Boom).detail).toBe(7);
    expect(await r.get({ propagate: false })).toBeInstanceOf(Boom);
    await app.close();
  });

  it('task_eager_propagates: the call itself rejects with the task error', async () => {
    const app = new Celeriac('eager', {
      broker_url: nowhere,
      result_backend: nowhere,
      task_always_eager: true,
      task_eager_propagates: true,
    });
    const fail = app.task('t.fail', (n: number) => {
      throw new Boom(n);
    });
    const error = await failureOf(fail.delay(3));
    expect(error).toBeInstanceOf(Boom);
    await app.close();
  });

  it('a bind task gets a context with its id; a task called from it gets it as parent and root', async () => {
    const app = new Celeriac('eager', { broker_url: nowhere, result_backend: nowhere, task_always_eager: true });
    const seen: Record<string, unknown>[] = [];
    const child = app.task(
      't.child',
      (ctx: { id: string; parentId: string | null; rootId: string | null }) => {
        seen.push({ id: ctx.id, parent: ctx.parentId, root: ctx.rootId });
        return 'child';
      },
      { bind: true },
    );
    const parent = app.task(
      't.parent',
      async (ctx: { id: string }) => {
        const r = await child.delay();
        return [ctx.id, await r.get()];
      },
      { bind: true },
    );
    const r = await parent.delay();
    const [ownId, childValue] = (await r.get()) as [string, string];
    expect(ownId).toBe(r.id);
    expect(childValue).toBe('child');
    expect(seen).toEqual([{ id: expect.any(String), parent: r.id, root: r.id }]);
    await expect(parent.applyAsync([], {}, { link: child.s() })).rejects.toBeInstanceOf(ApplyOptionsError);
    await app.close();
  });

  it('sendTask by name still goes to the broker, with one warning (Celery AlwaysEagerIgnored)', async () => {
    const server = await RedisServer.start();
    const log = capture();
    const app = new Celeriac(
      'eager',
      { broker_url: server.url(0), result_backend: server.url(1), task_always_eager: true },
      { logger: log.logger },
    );
    const redis = new Redis(server.url(0));
    try {
      await app.sendTask('py.remote', [1]);
      await app.sendTask('py.remote', [2]);
      expect(await redis.llen('celery')).toBe(2);
      expect(log.events('client.always_eager_ignored')).toHaveLength(1);
    } finally {
      redis.disconnect();
      await app.close();
      await server.stop();
    }
  });
});

describe('task_publish_retry / task_publish_retry_policy', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url(0), { maxRetriesPerRequest: null });
    redis.on('error', () => {}); // it sees the stops the tests make
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('a send made while Redis is stopped is retried per the policy and lands once Redis is back', async () => {
    const log = capture();
    const app = new Celeriac(
      'retry',
      {
        broker_url: server.url(0),
        task_publish_retry_policy: { max_retries: 20, interval_start: 0.1, interval_step: 0.1, interval_max: 0.3 },
      },
      { logger: log.logger },
    );
    const add = app.task('t.add', (a: number) => a);
    try {
      await add.delay(1); // connected
      await server.kill();
      const sending = add.delay(2);
      await new Promise((resolve) => setTimeout(resolve, 700));
      await server.restart();
      const r = await sending;
      const raws = await redis.lrange('celery', 0, -1);
      expect(raws.map((raw) => JSON.parse(raw).headers.id)).toContain(r.id);
      const retries = log.events('client.publish_retry');
      // At least one retry (an attempt made while ioredis reconnects may wait for it), at most the policy's.
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries.length).toBeLessThanOrEqual(20);
      expect(retries.map((l) => l.retry)).toEqual(retries.map((_, i) => i + 1));
      // interval_start, then one step longer each time, capped at interval_max.
      const waits = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3];
      expect(retries.slice(0, 8).map((l) => l.wait_sec)).toEqual(waits.slice(0, Math.min(8, retries.length)));
    } finally {
      await app.close();
    }
  }, 30_000);

  it('the first connect is retried too; max_retries spent throws the connection error after that many retries', async () => {
    await server.kill();
    const log = capture();
    const app = new Celeriac(
      'retry',
      {
        broker_url: server.url(0),
        task_publish_retry_policy: { max_retries: 2, interval_start: 0.2, interval_step: 0.2, interval_max: 1 },
      },
      { logger: log.logger },
    );
    const add = app.task('t.add', (a: number) => a);
    try {
      const started = performance.now();
      const error = await failureOf(add.delay(1));
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(log.events('client.publish_retry').map((l) => l.retry)).toEqual([1, 2]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(550); // 0.2 + 0.4 s of waits
    } finally {
      await app.close();
      await server.restart();
    }
  }, 30_000);

  it('task_publish_retry false: a connection error fails the send at once, without retries', async () => {
    const log = capture();
    const app = new Celeriac(
      'retry',
      { broker_url: server.url(0), task_publish_retry: false, task_publish_retry_policy: { max_retries: 50 } },
      { logger: log.logger },
    );
    const add = app.task('t.add', (a: number) => a);
    try {
      await add.delay(1);
      await server.kill();
      const error = await failureOf(add.delay(2));
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(log.events('client.publish_retry')).toEqual([]);
    } finally {
      await app.close();
      await server.restart();
    }
  }, 30_000);
});
