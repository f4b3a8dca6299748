import { logSchemaViolations } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { RedisBroker, UNACKED_INDEX_KEY, UNACKED_KEY } from '../src/index.js';
import { capturingLogger, inspector, rawEntry } from './helpers.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = inspector(server.url(0));
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

function expectSchema(lines: Record<string, unknown>[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(logSchemaViolations(line), JSON.stringify(line)).toEqual([]);
}

describe('broker and redis log lines follow the log schema', () => {
  it('a connection problem is logged as redis.connection_error with the Error in err and no password', async () => {
    const { logger, lines, text } = capturingLogger();
    const port = await freePort();
    const broker = new RedisBroker({ url: `redis://:pw-logs@127.0.0.1:${port}/0`, logger });
    await expect(broker.start()).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
    await broker.close();
    const problems = lines().filter((l) => l.event === 'redis.connection_error');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({
      role: expect.stringMatching(/^broker/),
      url: `redis://:***@127.0.0.1:${port}/0`,
      err: { type: expect.any(String), message: expect.stringContaining('ECONNREFUSED') },
    });
    expectSchema(lines());
    expect(text()).not.toContain('pw-logs');
  });

  it('restores log broker.restored and an unreadable unacked entry logs its delivery_tag', async () => {
    const { logger, lines } = capturingLogger();
    const old = String(Date.now() / 1000 - 7200);
    await redis.hset(UNACKED_KEY, 'bad-tag', 'not json');
    await redis.zadd(UNACKED_INDEX_KEY, old, 'bad-tag');
    await redis.hset(UNACKED_KEY, 'good-tag', JSON.stringify([JSON.parse(rawEntry('good-tag')), '', 'celery']));
    await redis.zadd(UNACKED_INDEX_KEY, old, 'good-tag');
    const broker = new RedisBroker({ url: server.url(0), logger, visibilityTimeoutMs: 1_000 });
    await broker.start();
    try {
      expect(await broker.restoreVisibilityTimeout()).toBe(1);
    } finally {
      await broker.close();
    }
    expect(lines().find((l) => l.event === 'broker.unacked_unreadable')).toMatchObject({ delivery_tag: 'bad-tag' });
    expect(lines().find((l) => l.event === 'broker.restored')).toMatchObject({
      restored: 1,
      reason: 'visibility_timeout',
    });
    expectSchema(lines());
  });

  it('restoreOwner logs broker.restored with the owner_id', async () => {
    const { logger, lines } = capturingLogger();
    const owner = new RedisBroker({ url: server.url(0), logger, ownerId: 'w1' });
    await owner.start();
    await owner.publish('celery', rawEntry('held-1'));
    expect(await owner.fetchBatch(['celery'], 1)).toHaveLength(1);
    await owner.close();
    const restorer = new RedisBroker({ url: server.url(0), logger });
    await restorer.start();
    try {
      expect(await restorer.restoreOwner('w1')).toBe(1);
    } finally {
      await restorer.close();
    }
    expect(lines().find((l) => l.event === 'broker.restored')).toMatchObject({
      restored: 1,
      owner_id: 'w1',
      reason: 'owner',
    });
    expectSchema(lines());
  });

  it('logs each state transition as broker.state', async () => {
    const { logger, lines } = capturingLogger();
    const broker = new RedisBroker({ url: server.url(0), logger });
    await broker.start();
    await broker.close();
    const states = lines().filter((l) => l.event === 'broker.state');
    expect(states.map((l) => [l.from, l.state])).toEqual([
      ['created', 'started'],
      ['started', 'closed'],
    ]);
    expectSchema(lines());
  });
});
