// The client applies result_backend_always_retry, result_backend_max_retries and the two sleep
// settings to its result reads (get, refresh), forget() and the chord/group state it writes: the
// result backend's own retry (libs/result-backend/src/backend-retry.ts), against a real Redis that
// the test stops while get() waits.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An app on the test's Redis with these settings, its backend connected, and what it logs. */
async function appWith(settings: Record<string, unknown>) {
  const { logger, lines } = capturingLogger('debug');
  const app = new Celeriac(
    'retry',
    { broker_url: server.url(0), result_backend: server.url(1), ...settings },
    { logger },
  );
  await app.AsyncResult('warm-up').refresh();
  const events = (name: string) => lines().filter((l) => l.event === name);
  return { app, events };
}

/** Stores a result as a worker does (SET, then PUBLISH on the key's channel). */
async function storeResult(id: string, result: unknown): Promise<void> {
  const redis = new Redis(server.url(1));
  try {
    const doc = JSON.stringify({ status: 'SUCCESS', result, traceback: null, children: [], task_id: id });
    await redis.set(`celery-task-meta-${id}`, doc);
    await redis.publish(`celery-task-meta-${id}`, doc);
  } finally {
    redis.disconnect();
  }
}

function failureOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e,
  );
}

describe('result_backend_always_retry in the client', { timeout: 60_000 }, () => {
  it('on: get() started while Redis is stopped retries with the settings, and gets the result once Redis is back', async () => {
    const { app, events } = await appWith({
      result_backend_always_retry: true,
      result_backend_base_sleep_between_retries_ms: 100,
      result_backend_max_sleep_between_retries_ms: 400,
    });
    try {
      await server.kill();
      const getting = app.AsyncResult('t-on').get({ timeout: 30_000 });
      await until(() => events('result_backend.retrying').length >= 2);
      await server.restart();
      await storeResult('t-on', 42);
      expect(await getting).toBe(42);
      const retries = events('result_backend.retrying');
      expect(retries[0]).toMatchObject({ operation: 'waitFor', retries: 1 });
      // Celery's full jitter: each sleep is at most min(max, base * 2^retries).
      for (const line of retries) {
        expect(line.sleep_ms as number).toBeLessThanOrEqual(Math.min(400, 100 * 2 ** (line.retries as number)));
      }
      expect(events('result_backend.retries_exhausted')).toHaveLength(0);
    } finally {
      await server.restart();
      await app.close();
    }
  });

  it('on: forget() made while Redis is stopped is retried until Redis is back, then resolves', async () => {
    const { app, events } = await appWith({
      result_backend_always_retry: true,
      result_backend_base_sleep_between_retries_ms: 100,
      result_backend_max_sleep_between_retries_ms: 400,
    });
    try {
      await server.kill();
      const forgetting = app.AsyncResult('t-forget').forget();
      await until(() => events('result_backend.retrying').some((l) => l.operation === 'forget'));
      await server.restart();
      await expect(forgetting).resolves.toBeUndefined();
      expect(events('result_backend.retries_exhausted')).toHaveLength(0);
    } finally {
      await server.restart();
      await app.close();
    }
  });

  it('result_backend_max_retries: get() gives up after that many retries with a clear error', async () => {
    const { app, events } = await appWith({
      result_backend_always_retry: true,
      result_backend_max_retries: 2,
      result_backend_base_sleep_between_retries_ms: 20,
      result_backend_max_sleep_between_retries_ms: 60,
    });
    try {
      await server.kill();
      const error = await failureOf(app.AsyncResult('t-max').get({ timeout: 30_000 }));
      expect(error.code).toBe('RESULT_BACKEND_UNAVAILABLE');
      expect(error.message).toMatch(/waitFor \(gave up after 2 retries, result_backend_max_retries=2\) failed/);
      expect(error.message).toContain(`Redis at ${server.url(1)} did not serve it`);
      expect(
        events('result_backend.retrying')
          .filter((l) => l.operation === 'waitFor')
          .map((l) => l.retries),
      ).toEqual(expect.arrayContaining([1, 2]));
      expect(events('result_backend.retrying').every((l) => (l.retries as number) <= 2)).toBe(true);
      expect(events('result_backend.retries_exhausted')[0]).toMatchObject({ operation: 'waitFor', retries: 2 });
    } finally {
      await server.restart();
      await app.close();
    }
  });

  it('off (the default): get() while Redis is stopped fails at once, without a retry', async () => {
    const { app, events } = await appWith({});
    try {
      await server.kill();
      const started = Date.now();
      const error = await failureOf(app.AsyncResult('t-off').get({ timeout: 30_000 }));
      expect(error.code).toBe('RESULT_BACKEND_UNAVAILABLE');
      expect(error.message).not.toContain('gave up');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(events('result_backend.retrying')).toHaveLength(0);
    } finally {
      await server.restart();
      await app.close();
    }
  });

  it('a setting of the wrong type is refused when the backend is made', async () => {
    const app = new Celeriac('retry', {
      broker_url: server.url(0),
      result_backend: server.url(1),
      result_backend_max_retries: 'three',
    });
    try {
      const error = await failureOf(app.AsyncResult('t-bad').refresh());
      expect(error.message).toMatch(/result_backend_max_retries must be an integer >= 0, got "three"/);
    } finally {
      await app.close();
    }
  });
});
