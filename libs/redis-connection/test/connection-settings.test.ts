import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { closeRedisConnection, createRedisConnection, redisUrlFromSettings } from '../src/index.js';

let server: RedisServer;
let admin: Redis;
const opened: Redis[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
  admin = new Redis(server.url(0));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((r) => closeRedisConnection(r)));
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** The result backend connection a Celery config gives (broker and backend on the test server). */
function backend(settings: Record<string, unknown>, url = server.url(1)) {
  const { logger, lines } = capturingLogger();
  const redis = createRedisConnection(
    redisUrlFromSettings('result_backend', { broker_url: server.url(0), result_backend: url, ...settings }),
    'result-backend',
    logger,
  );
  opened.push(redis);
  return { redis, lines };
}

/** Whether the kernel runs a keep-alive timer on the TCP socket from `localPort` (ss -o). */
function keepAliveTimer(localPort: number): boolean {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${localPort} )`], { encoding: 'utf8' });
  expect(out).toContain(`:${localPort}`);
  return out.includes('keepalive');
}

describe('redis_socket_keepalive (result backend)', () => {
  it('true puts TCP keep-alive on the socket, false leaves it off', async () => {
    const on = backend({ redis_socket_keepalive: true });
    const off = backend({ redis_socket_keepalive: false });
    await Promise.all([on.redis.connect(), off.redis.connect()]);
    expect(keepAliveTimer(on.redis.stream.localPort as number)).toBe(true);
    expect(keepAliveTimer(off.redis.stream.localPort as number)).toBe(false);
  });

  it('is read for the result backend only, as Celery 5.2 does: the broker URL is left as it is', () => {
    const settings = { broker_url: server.url(0), result_backend: server.url(1), redis_socket_keepalive: true };
    expect(redisUrlFromSettings('result_backend', settings)).toContain('socket_keepalive=true');
    expect(redisUrlFromSettings('broker', settings)).not.toContain('socket_keepalive');
  });
});

describe('redis_socket_timeout (result backend)', () => {
  it('a reply slower than the timeout drops the connection (ioredis resends the command once reconnected)', async () => {
    const timed = backend({ redis_socket_timeout: 0.3 });
    const plain = backend({});
    await Promise.all([timed.redis.connect(), plain.redis.connect()]);
    await plain.redis.set('slow', 'v');
    await admin.client('PAUSE', '1500');
    const [a, b] = await Promise.all([timed.redis.get('slow'), plain.redis.get('slow')]);
    expect([a, b]).toEqual(['v', 'v']);
    const timeouts = (lines: () => Record<string, unknown>[]) =>
      lines().filter(
        (l) =>
          l.event === 'redis.connection_error' &&
          /Socket timeout/.test(String((l.err as { message?: string }).message)),
      );
    expect(timeouts(timed.lines).length).toBeGreaterThanOrEqual(1);
    expect(timeouts(plain.lines)).toHaveLength(0);
  }, 20_000);

  it('a subscriber waiting longer than the timeout without messages keeps its connection', async () => {
    const sub = backend({ redis_socket_timeout: 0.3 });
    await sub.redis.connect();
    await sub.redis.subscribe('celery-task-meta-idle');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sub.redis.status).toBe('ready');
    expect(sub.lines().filter((l) => l.event === 'redis.connection_error')).toHaveLength(0);
  }, 20_000);
});

describe('redis_socket_connect_timeout (result backend)', () => {
  it('bounds a connect that hangs (TLS to a stopped redis-server: TCP is accepted, no handshake comes)', async () => {
    const listing = execFileSync('ss', ['-tlnpH', `( sport = :${server.port} )`], { encoding: 'utf8' });
    const pid = Number(/pid=(\d+)/.exec(listing)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGSTOP');
    try {
      const url = `rediss://127.0.0.1:${server.port}/1?ssl_cert_reqs=none`;
      const timed = backend({ redis_socket_connect_timeout: 0.5 }, url);
      const t0 = performance.now();
      await expect(timed.redis.connect()).rejects.toThrow(/ETIMEDOUT/);
      // ioredis's own default would wait 10 s.
      expect(performance.now() - t0).toBeLessThan(8_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 20_000);
});
