// kombu's failover lists (redis://a;redis://b) on real redis-servers of the test's own: the
// connection moves to the next URL when a connect fails or the connection is lost.
import { logSchemaViolations } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger as capture } from '../../../test/support/capturing-logger.js';
import { pollUntil } from '../../../test/support/celery-poll.js';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { closeRedisConnection, createRedisConnection } from '../src/index.js';

const PASSWORD = 'hunter2-failover';
let a: RedisServer;
let b: RedisServer;

async function protect(server: RedisServer): Promise<void> {
  const admin = new Redis(server.url(0));
  await admin.config('SET', 'requirepass', PASSWORD);
  admin.disconnect();
}

function withPassword(url: string): string {
  return url.replace('redis://', `redis://:${PASSWORD}@`);
}

/** Polls `check` (failing while the connection moves) until it gives a value. */
function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  return pollUntil(() => check().catch(() => undefined), { what, timeoutMs: 15_000 });
}

beforeAll(async () => {
  [a, b] = await Promise.all([RedisServer.start(), RedisServer.start()]);
  await Promise.all([protect(a), protect(b)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('failover lists of Redis URLs', { timeout: 60_000 }, () => {
  it('moves to the next URL when the server is lost, round-robin, logging redis.failover without the password', async () => {
    const { logger, lines } = capture();
    const url = `${withPassword(a.url(3))};${withPassword(b.url(3))}`;
    const redis = createRedisConnection(url, 'test', logger);
    try {
      await redis.connect();
      await redis.set('where', 'a');
      expect(await redis.get('where')).toBe('a');
      await a.kill();
      // The next commands run on b (its own data: nothing there yet), in db 3 with the password.
      const seen = await until(async () => {
        await redis.set('after', '1');
        return (await redis.get('where')) === null ? 'b' : undefined;
      }, 'the connection on b');
      expect(seen).toBe('b');
      const direct = new Redis(withPassword(b.url(3)));
      expect(await direct.get('after')).toBe('1');
      direct.disconnect();
      const switches = lines().filter((l) => l.event === 'redis.failover');
      expect(switches[0]).toMatchObject({
        level: 40,
        role: 'test',
        from: `redis://:***@127.0.0.1:${a.port}/3`,
        to: `redis://:***@127.0.0.1:${b.port}/3`,
      });
      // Round-robin: with b lost and a back, it returns to a.
      await a.restart();
      await protect(a);
      const onA = new Redis(withPassword(a.url(3)));
      await onA.set('marker', 'a');
      await b.kill();
      await until(async () => ((await redis.get('marker')) === 'a' ? true : undefined), 'the connection back on a');
      await redis.set('back', 'a');
      expect(await onA.get('back')).toBe('a');
      onA.disconnect();
      expect(lines().some((l) => l.event === 'redis.failover' && l.to === `redis://:***@127.0.0.1:${a.port}/3`)).toBe(
        true,
      );
      expect(JSON.stringify(lines())).not.toContain(PASSWORD);
      for (const line of lines()) expect(logSchemaViolations(line)).toEqual([]);
    } finally {
      await closeRedisConnection(redis);
      await b.restart();
      await protect(b);
    }
  });

  it('connect() succeeds on the second URL when the first is down at start; fails with the error when all are', async () => {
    const { logger } = capture();
    const dead = await freePort();
    const redis = createRedisConnection(
      `redis://:${PASSWORD}@127.0.0.1:${dead}/0;${withPassword(b.url(0))}`,
      'start',
      logger,
    );
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await closeRedisConnection(redis);
    }
    const other = await freePort();
    const none = createRedisConnection(`redis://127.0.0.1:${dead}/0;redis://127.0.0.1:${other}/0`, 'none', logger);
    try {
      await expect(none.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await closeRedisConnection(none);
    }
  });

  it('shuffle picks the next URL at random and still reaches a live one', async () => {
    const { logger } = capture();
    const dead = await freePort();
    const redis = createRedisConnection(
      `redis://:${PASSWORD}@127.0.0.1:${dead}/0?failover_strategy=shuffle;${withPassword(b.url(0))}`,
      'shuffle',
      logger,
    );
    try {
      await until(async () => {
        if (redis.status === 'wait') await redis.connect().catch(() => undefined);
        return (await redis.ping()) === 'PONG' ? true : undefined;
      }, 'a shuffled connection on b');
    } finally {
      await closeRedisConnection(redis);
    }
  });
});
