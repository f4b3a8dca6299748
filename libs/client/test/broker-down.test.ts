import { BrokerUnavailableError } from '@celeriac/broker';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e,
  );
}

describe('when Redis is unreachable', () => {
  it('delay rejects with BrokerUnavailableError naming the redacted URL, and close() still resolves', async () => {
    const port = await freePort();
    const app = new Celeriac('tasks', { broker_url: `redis://:s3cret@127.0.0.1:${port}/0` });
    const add = app.task('tasks.add', () => 1);
    const error = await failureOf(add.delay(1));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as BrokerUnavailableError).code).toBe('BROKER_UNAVAILABLE');
    expect(error.message).toContain(`Redis at redis://:***@127.0.0.1:${port}/0 is unavailable`);
    expect(error.message).not.toContain('s3cret');
    expect(String((error as Error & { cause?: unknown }).cause)).not.toContain('s3cret');
    await app.close();
    await app.close();
  });

  it('a later send succeeds once Redis is back (the failed connect is retried)', async () => {
    const app = new Celeriac('tasks', { broker_url: server.url(0), result_backend: server.url(1) });
    const add = app.task('tasks.add', () => 1);
    await server.kill();
    await failureOf(add.delay(1));
    await server.restart();
    await add.delay(2);
    // Redis restarts without persistence: the connection comes back and sends go on.
    await server.kill();
    await failureOf(add.delay(3));
    await server.restart();
    const deadline = Date.now() + 10_000;
    let r = await add.delay(4).catch(() => null);
    while (!r && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      r = await add.delay(4).catch(() => null);
    }
    if (!r) throw new Error('sending did not recover after Redis came back');
    const redis = new Redis(server.url(0));
    try {
      expect(await redis.llen('celery')).toBe(1);
      const raw = await redis.lindex('celery', 0);
      expect(JSON.parse(raw!).headers.id).toBe(r.id);
    } finally {
      redis.disconnect();
      await app.close();
    }
  });
});
