import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gate, Harness, waitFor } from './support.js';

/**
 * A worker in this process answers the pidbox like a Celery node: our own `app.control` (the
 * client's ControlClient) asks and steers it. Debian's Celery CLI does the same in test/interop.
 */

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

const NODE = 'ctl@test';
const ONE = { destination: [NODE], timeoutMs: 2_000 };

describe('worker: inspect', () => {
  it('answers ping, active, reserved, scheduled, registered, stats, active_queues, query_task, conf', async () => {
    const app = h.app({ mirror_url: 'redis://user:s3cret@10.0.0.9:6379/0', api_token: 'tok-s3cret' });
    const hold = gate();
    const slow = app.task('t.slow', async (n: number) => {
      await hold.promise;
      return n;
    });
    const add = app.task('t.add', (a: number, b: number) => a + b, { rate_limit: '10/m' });
    await h.worker(app, { hostname: NODE, concurrency: 1 });
    const running = await slow.delay(1);
    const waiting = await slow.delay(2);
    const later = await add.applyAsync([1, 2], {}, { countdown: 30 });
    const inspect = app.control.inspect(ONE);
    await waitFor(async () => ((await inspect.active())[NODE] as unknown[] | undefined)?.length === 1 || undefined);

    expect(await app.control.ping(ONE)).toEqual([{ [NODE]: { ok: 'pong' } }]);
    const active = (await inspect.active())[NODE] as Array<Record<string, unknown>>;
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({
      id: running.id,
      name: 't.slow',
      args: [1],
      hostname: NODE,
      acknowledged: true,
      worker_pid: process.pid,
      delivery_info: { routing_key: 'celery' },
    });
    expect(active[0]?.time_start).toBeCloseTo(Date.now() / 1000, -1);
    const reserved = (await inspect.reserved())[NODE] as Array<Record<string, unknown>>;
    expect(reserved.map((r) => r.id)).toEqual([waiting.id]);
    expect(reserved[0]).toMatchObject({ time_start: null, acknowledged: false, worker_pid: null });
    const scheduled = (await inspect.scheduled())[NODE] as Array<Record<string, unknown>>;
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]).toMatchObject({ priority: 0, request: { id: later.id, name: 't.add', args: [1, 2] } });
    expect(Date.parse(String(scheduled[0]?.eta))).toBeGreaterThan(Date.now() + 20_000);
    expect((await inspect.registered())[NODE]).toEqual(['t.add [rate_limit=10/m]', 't.slow']);
    const stats = (await inspect.stats())[NODE] as Record<string, Record<string, unknown>>;
    expect(stats.total).toEqual({ 't.slow': 1 });
    expect(stats.pool?.['max-concurrency']).toBe(1);
    expect(stats.prefetch_count).toBe(4 + 1);
    const queues = (await inspect.activeQueues())[NODE] as Array<Record<string, unknown>>;
    expect(queues.map((q) => q.name)).toEqual(['celery']);
    const queried = (await inspect.queryTask(running.id, later.id))[NODE] as Record<string, [string, unknown]>;
    expect(queried[running.id]?.[0]).toBe('active');
    expect(queried[later.id]?.[0]).toBe('reserved');
    const conf = (await inspect.conf())[NODE] as Record<string, unknown>;
    expect(conf).toMatchObject({ broker_url: h.redis.url(0), mirror_url: 'redis://user:***@10.0.0.9:6379/0' });
    expect(conf.api_token).toBe('********');
    expect(conf.task_default_queue).toBeUndefined();
    expect(((await inspect.conf(true))[NODE] as Record<string, unknown>).task_default_queue).toBe('celery');
    expect(JSON.stringify(await inspect.conf(true))).not.toContain('s3cret');
    hold.open();
    expect(await running.get({ timeout: 5000 })).toBe(1);
  });

  it('an unknown command gets Celery error reply; a wrong destination gets none', async () => {
    const app = h.app();
    await h.worker(app, { hostname: NODE });
    expect(await app.control.broadcast('no_such', {}, ONE)).toEqual([{ [NODE]: { error: "KeyError('no_such')" } }]);
    expect(await app.control.ping({ destination: ['other@host'], timeoutMs: 300 })).toEqual([]);
  });
});

describe('worker: control', () => {
  it('rate_limit takes effect at once, without a restart, and can be lifted', async () => {
    const app = h.app();
    const stamps: number[] = [];
    const tick = app.task('t.tick', () => {
      stamps.push(Date.now());
    });
    await h.worker(app, { hostname: NODE, concurrency: 4 });
    expect(await app.control.rateLimit('t.tick', '5/s', ONE)).toEqual([
      { [NODE]: { ok: 'new rate limit set successfully' } },
    ]);
    const limited = await tick.applyMany(Array.from({ length: 6 }, () => []));
    await Promise.all(limited.map((r) => r.get({ timeout: 10_000 })));
    // 5/s with one token saved: six tasks take about a second.
    const spanMs = (stamps.at(-1) as number) - (stamps[0] as number);
    console.log(`rate_limit 5/s set at runtime: 6 tasks ran over ${spanMs} ms`);
    expect(spanMs).toBeGreaterThan(850);
    expect(spanMs).toBeLessThan(2_500);
    expect((await app.control.inspect(ONE).registered())[NODE]).toEqual(['t.tick [rate_limit=5/s]']);

    // Tasks waiting for a token follow a lifted limit at once.
    stamps.length = 0;
    await app.control.rateLimit('t.tick', '1/m', ONE);
    const slowed = await tick.applyMany(Array.from({ length: 4 }, () => []));
    await waitFor(() => (stamps.length === 1 ? true : undefined));
    expect(await app.control.rateLimit('t.tick', null, ONE)).toEqual([
      { [NODE]: { ok: 'rate limit disabled successfully' } },
    ]);
    await Promise.all(slowed.map((r) => r.get({ timeout: 3_000 })));
    expect(await app.control.rateLimit('t.nope', '1/s', ONE)).toEqual([{ [NODE]: { error: 'unknown task' } }]);
  });

  it('time_limit applies to the next run of the task', async () => {
    const app = h.app();
    const nap = app.task('t.nap', async (ms: number) => {
      await sleep(ms);
      return ms;
    });
    await h.worker(app, { hostname: NODE });
    expect(await app.control.timeLimit('t.nap', null, 0.2, ONE)).toEqual([
      { [NODE]: { ok: 'time limits set successfully' } },
    ]);
    const r = await nap.delay(1_000);
    const doc = await h.waitDoc(r.id, 'FAILURE');
    expect((doc.result as { exc_type: string }).exc_type).toBe('TimeLimitExceeded');
  });

  it('add_consumer and cancel_consumer start and stop a queue', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await h.worker(app, { hostname: NODE });
    const first = await add.applyAsync([1, 1], {}, { queue: 'extra' });
    await sleep(300);
    expect(await h.doc(first.id)).toBeNull();
    expect(await app.control.addConsumer('extra', ONE)).toEqual([{ [NODE]: { ok: 'add consumer extra' } }]);
    expect(await first.get({ timeout: 5_000 })).toBe(2);
    const queues = (await app.control.inspect(ONE).activeQueues())[NODE] as Array<{ name: string }>;
    expect(queues.map((q) => q.name)).toEqual(['celery', 'extra']);

    expect(await app.control.cancelConsumer('extra', ONE)).toEqual([
      { [NODE]: { ok: 'no longer consuming from extra' } },
    ]);
    // A blocking pop already under way may still take one message: wait for it to end.
    await sleep(1_200);
    const second = await add.applyAsync([2, 2], {}, { queue: 'extra' });
    await sleep(1_500);
    expect(await h.doc(second.id)).toBeNull();
    expect(await h.broker.llen('extra')).toBe(1);
    // Every queue cancelled: the worker idles without spinning, and comes back with add_consumer.
    await app.control.cancelConsumer('celery', ONE);
    await sleep(300);
    expect((await app.control.ping(ONE)).length).toBe(1);
    await app.control.addConsumer('extra', ONE);
    expect(await second.get({ timeout: 5_000 })).toBe(4);
  });

  it('pool_grow / pool_shrink change how many tasks run at once, without a restart', async () => {
    const app = h.app();
    let running = 0;
    let peak = 0;
    const hold = app.task('t.hold', async (ms: number) => {
      peak = Math.max(peak, ++running);
      await sleep(ms);
      running--;
    });
    const runAll = async (n: number, ms: number) => {
      peak = 0;
      const results = await Promise.all(Array.from({ length: n }, () => hold.delay(ms)));
      await Promise.all(results.map((r) => r.get({ timeout: 5_000 })));
      return peak;
    };
    await h.worker(app, { hostname: NODE, concurrency: 1 });
    expect(await app.control.poolGrow(2, ONE)).toEqual([{ [NODE]: { ok: 'pool will grow' } }]);
    const stats = (await app.control.inspect(ONE).stats())[NODE] as { pool: Record<string, unknown> };
    expect(stats.pool['max-concurrency']).toBe(3);
    expect(await runAll(3, 300)).toBe(3);
    expect(await app.control.poolShrink(2, ONE)).toEqual([{ [NODE]: { ok: 'pool will shrink' } }]);
    expect(await runAll(2, 200)).toBe(1);
    const refused = (await app.control.poolShrink(1, ONE))[0] ?? {};
    expect((refused[NODE] as { error: string }).error).toMatch(/^ValueError\(.*Can't shrink pool by 1/);
    const notCount = (await app.control.broadcast('pool_grow', { n: 'x' }, ONE))[0] ?? {};
    expect((notCount[NODE] as { error: string }).error).toBe(
      `TypeError('pool_grow takes a whole number of slots, got "x"')`,
    );
  });

  it('shutdown stops the worker warm: the running task finishes first', async () => {
    const app = h.app();
    const nap = app.task('t.nap', async (ms: number) => {
      await sleep(ms);
      return ms;
    });
    const worker = await h.worker(app, { hostname: NODE });
    const r = await nap.delay(500);
    await waitFor(() => (worker.stats().running === 1 ? true : undefined));
    // Celery sends no reply to shutdown.
    expect(await app.control.shutdown({ ...ONE, reply: true, timeoutMs: 300 })).toEqual([]);
    await waitFor(() => (worker.state === 'stopped' ? true : undefined), 10_000);
    expect((await h.waitDoc(r.id)).status).toBe('SUCCESS');
    expect(await app.control.ping({ ...ONE, timeoutMs: 300 })).toEqual([]);
  });
});
