import { logSchemaViolations } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger as capture } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisResultBackend, type ResultBackendRetry } from '../src/index.js';

let server: RedisServer;
let redis: Redis;
const backends: RedisResultBackend[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(1));
  redis.on('error', () => undefined);
});
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await server.restart();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function started(retry?: Partial<ResultBackendRetry>) {
  const { logger, lines } = capture();
  const backend = new RedisResultBackend({ url: server.url(1), logger, ...(retry ? { retry } : {}) });
  backends.push(backend);
  await backend.start();
  const events = (name: string) => lines().filter((l) => l.event === name);
  return { backend, lines, events };
}

const doc = (id: string) => ({ task_id: id, status: 'SUCCESS', result: 42 }) as never;

describe('result_backend_always_retry and its bounds (Celery 5.2 store_result / get_task_meta)', () => {
  it('off (the default): a store while Redis is down fails, and is not retried', async () => {
    const { backend, events } = await started();
    await server.kill();
    await expect(backend.store(doc('r-off'))).rejects.toMatchObject({ code: 'RESULT_BACKEND_UNAVAILABLE' });
    expect(events('result_backend.retrying')).toHaveLength(0);
  }, 20_000);

  it('on: a store made while Redis is down is retried until Redis is back, then stored', async () => {
    const { backend, events, lines } = await started({ always: true, baseSleepMs: 100, maxSleepMs: 500 });
    await server.kill();
    const storing = backend.store(doc('r-on'));
    await until(() => events('result_backend.retrying').length >= 2);
    await server.restart();
    await storing;
    const stored = JSON.parse((await redis.get('celery-task-meta-r-on')) as string) as Record<string, unknown>;
    expect(stored).toMatchObject({ task_id: 'r-on', status: 'SUCCESS', result: 42 });
    expect(events('result_backend.retrying')[0]).toMatchObject({ operation: 'storeMany', retries: 1 });
    expect(events('result_backend.retries_exhausted')).toHaveLength(0);
    expect(lines().flatMap((l) => logSchemaViolations(l))).toEqual([]);
  }, 30_000);

  it('on: a read (get) made while Redis is down is retried until Redis is back', async () => {
    const { backend, events } = await started({ always: true, baseSleepMs: 100, maxSleepMs: 500 });
    await server.kill();
    const reading = backend.get('r-get');
    await until(() => events('result_backend.retrying').length >= 1);
    await server.restart();
    // Without the retry the read rejects; with it, it answers from the restarted (empty) server,
    // or sees the document when this write wins the race with the retried read.
    await redis.set('celery-task-meta-r-get', JSON.stringify({ task_id: 'r-get', status: 'SUCCESS', result: 7 }));
    const got = await reading;
    expect(got === null || (got.status === 'SUCCESS' && got.result === 7)).toBe(true);
    expect(events('result_backend.retrying')[0]).toMatchObject({ operation: 'get' });
    expect(await backend.get('r-get')).toMatchObject({ status: 'SUCCESS', result: 7 });
  }, 30_000);

  it('result_backend_max_retries bounds the retries; sleeps follow the base and cap (full jitter)', async () => {
    const { backend, events } = await started({ always: true, maxRetries: 3, baseSleepMs: 20, maxSleepMs: 60 });
    await server.kill();
    await expect(backend.store(doc('r-max'))).rejects.toMatchObject({ code: 'RESULT_BACKEND_UNAVAILABLE' });
    const retries = events('result_backend.retrying');
    expect(retries.map((l) => l.retries)).toEqual([1, 2, 3]);
    // Celery: randrange(min(max, base * 2 ** retries) + 1).
    retries.forEach((l, i) => {
      expect(l.sleep_ms).toBeGreaterThanOrEqual(0);
      expect(l.sleep_ms).toBeLessThanOrEqual(Math.min(60, 20 * 2 ** (i + 1)));
    });
    expect(events('result_backend.retries_exhausted')).toMatchObject([{ operation: 'storeMany', retries: 3 }]);
  }, 30_000);

  it('an error reply from Redis is not retried', async () => {
    const { backend, events } = await started({ always: true, baseSleepMs: 10, maxSleepMs: 10 });
    await redis.set('celery-task-meta-r-reply', 'x');
    await redis.config('SET', 'maxmemory', '1');
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    try {
      await expect(backend.store(doc('r-reply'))).rejects.toThrow(/OOM/);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(events('result_backend.retrying')).toHaveLength(0);
  }, 20_000);
});
