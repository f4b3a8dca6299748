import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(async () => {
  await h.start();
  // The harness's own raw connections: their reconnect errors while the server is down are expected.
  for (const raw of [h.broker, h.results]) raw.on('error', () => undefined);
});
afterEach(async () => {
  await h.redis.restart();
  await h.reset();
});
afterAll(() => h.stop());

/** Redis not reachable, from whichever of the broker and result backend connections failed first. */
const UNREACHABLE = { code: expect.stringMatching(/^(BROKER_UNAVAILABLE|RESULT_BACKEND_UNAVAILABLE)$/) };

/** The settings names of the `worker.setting_not_honoured` warnings a worker logged. */
function notHonoured(log: LogCapture): unknown[] {
  return log.events('worker.setting_not_honoured').map((l) => l.setting);
}

describe('broker_connection_retry / broker_connection_max_retries at worker start (Celery 5.2 ensure_connected)', () => {
  it('with broker_connection_retry off, a worker that cannot reach Redis fails at once with a clear error', async () => {
    await h.redis.kill();
    const log = new LogCapture();
    const app = h.app({ broker_connection_retry: false });
    const started = h.worker(app, {}, log);
    await expect(started).rejects.toMatchObject(UNREACHABLE);
    await expect(started).rejects.toThrow(/ECONNREFUSED/);
    expect(log.events('worker.broker_connection_retry')).toHaveLength(0);
    const failed = log.events('worker.broker_connection_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.msg)).toMatch(
      /Cannot connect to redis:\/\/127\.0\.0\.1:\d+.*broker_connection_retry is off/,
    );
    expect(notHonoured(log)).not.toContain('broker_connection_retry');
  }, 20_000);

  it('broker_connection_max_retries bounds the retries (2, 4 s apart as kombu sleeps), then fails clearly', async () => {
    await h.redis.kill();
    const log = new LogCapture();
    const app = h.app({ broker_connection_max_retries: 2 });
    const t0 = performance.now();
    await expect(h.worker(app, {}, log)).rejects.toMatchObject(UNREACHABLE);
    // Two sleeps of 2 s and 4 s before the third and last try.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(6_000);
    const retries = log.events('worker.broker_connection_retry');
    expect(retries.map((l) => [l.retries, l.max_retries, l.sleep_ms])).toEqual([
      [1, 2, 2000],
      [2, 2, 4000],
    ]);
    expect(String(retries[0]?.msg)).toMatch(/Trying again in 2\.00 seconds\.\.\. \(1\/2\)/);
    const failed = log.events('worker.broker_connection_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.msg)).toMatch(/gave up after 2 retries \(broker_connection_max_retries = 2\)/);
    expect(notHonoured(log)).not.toContain('broker_connection_max_retries');
  }, 30_000);

  it('broker_connection_max_retries 0 tries once', async () => {
    await h.redis.kill();
    const log = new LogCapture();
    await expect(h.worker(h.app({ broker_connection_max_retries: 0 }), {}, log)).rejects.toMatchObject(UNREACHABLE);
    expect(log.events('worker.broker_connection_retry')).toHaveLength(0);
    expect(String(log.events('worker.broker_connection_failed')[0]?.msg)).toMatch(/gave up after 0 retries/);
  }, 20_000);

  it('with retry on (the default), a worker started before Redis connects once Redis is up and runs tasks', async () => {
    await h.redis.kill();
    const log = new LogCapture();
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const started = h.worker(app, {}, log);
    await waitFor(() => (log.events('worker.broker_connection_retry').length > 0 ? true : undefined), 15_000);
    await h.redis.restart();
    const worker = await started;
    expect(worker.state).toBe('running');
    expect(log.events('worker.broker_connection_failed')).toHaveLength(0);
    const result = await add.delay(2, 3);
    expect(await result.get({ timeout: 10_000 })).toBe(5);
  }, 40_000);
});

describe('broker_connection_retry / broker_connection_max_retries on connection loss while running', () => {
  it('with broker_connection_retry off, losing Redis fails the worker (Celery re-raises and exits)', async () => {
    const log = new LogCapture();
    const worker = await h.worker(h.app({ broker_connection_retry: false }), {}, log);
    expect(worker.state).toBe('running');
    await h.redis.kill();
    await waitFor(() => (worker.state === 'failed' ? true : undefined), 15_000);
    const lost = log.events('worker.broker_connection_lost');
    expect(lost).toHaveLength(1);
    expect(String(lost[0]?.msg)).toMatch(/lost: broker_connection_retry is off/);
  }, 30_000);

  it("with broker_connection_max_retries 1, Redis gone longer than kombu's one 2 s retry fails the worker", async () => {
    const log = new LogCapture();
    const worker = await h.worker(h.app({ broker_connection_max_retries: 1 }), {}, log);
    await h.redis.kill();
    const t0 = performance.now();
    await waitFor(() => (worker.state === 'failed' ? true : undefined), 20_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(String(log.events('worker.broker_connection_lost')[0]?.msg)).toMatch(
      /gave up after 1 retries \(broker_connection_max_retries\)/,
    );
  }, 30_000);

  it('with retry on (default 100 retries), Redis back within the budget: the worker goes on running tasks', async () => {
    const log = new LogCapture();
    const app = h.app();
    const add = app.task('t.add2', (a: number, b: number) => a + b);
    const worker = await h.worker(app, {}, log);
    await h.redis.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    await h.redis.restart();
    const result = await add.delay(20, 22);
    expect(await result.get({ timeout: 15_000 })).toBe(42);
    expect(worker.state).toBe('running');
    expect(log.events('worker.broker_connection_lost')).toHaveLength(0);
  }, 30_000);
});
