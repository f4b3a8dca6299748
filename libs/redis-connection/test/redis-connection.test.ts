import { createLogger, logSchemaViolations } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger as capture } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { closeRedisConnection, createRedisConnection } from '../src/index.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describe('redis connections', () => {
  it('closeRedisConnection gives up on a QUIT that Redis does not answer within the deadline', async () => {
    const { logger, lines } = capture();
    const redis = createRedisConnection(server.url(0), 'test', logger);
    await redis.connect();
    const admin = new Redis(server.url(0));
    // Paused clients get no replies (the pause ends by itself; UNPAUSE would wait for it too).
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    admin.disconnect();
    const ended = new Promise((resolve) => redis.once('end', resolve));
    const started = Date.now();
    await closeRedisConnection(redis, 200);
    expect(Date.now() - started).toBeLessThan(1_000);
    await ended;
    const states = lines().filter((l) => l.event === 'redis.state');
    expect(states.map((l) => l.state)).toEqual(['ready', 'end']);
    expect(states[0]).toMatchObject({ role: 'test', url: server.url(0) });
    for (const line of lines()) expect(logSchemaViolations(line)).toEqual([]);
  });

  it('closeRedisConnection on a connection that never connected ends it at once', async () => {
    const redis = createRedisConnection(server.url(0), 'idle', createLogger({ level: 'silent', pretty: false }));
    await closeRedisConnection(redis);
    expect(redis.status).toBe('end');
  });
});
