import { setTimeout as sleep } from 'node:timers/promises';
import { RedisBroker } from '@celeriac/broker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gate, Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

async function resultCount(): Promise<number> {
  return (await h.results.keys('celery-task-meta-*')).length;
}

async function queuedIds(queue = 'celery'): Promise<{ id: string; redelivered: unknown }[]> {
  return (await h.broker.lrange(queue, 0, -1)).map((raw) => {
    const env = JSON.parse(raw) as { headers: { id: string; redelivered?: unknown } };
    return { id: env.headers.id, redelivered: env.headers.redelivered };
  });
}

describe('worker: shutdown', () => {
  it('goes created → starting → running → draining → stopped', async () => {
    const app = h.app();
    app.task('t.noop', () => null);
    const states: string[] = [];
    const { Worker } = await import('../src/index.js');
    const worker = new Worker({
      app,
      queues: ['celery'],
      concurrency: 1,
      hostname: 'w@h',
      logger: new LogCapture().logger,
    });
    worker.on('state', (s: string) => states.push(s));
    let ready = false;
    worker.on('ready', () => {
      ready = true;
    });
    expect(worker.state).toBe('created');
    await worker.start();
    expect(ready).toBe(true);
    await worker.warmShutdown();
    await worker.warmShutdown();
    await worker.coldShutdown();
    expect(states).toEqual(['starting', 'running', 'draining', 'stopped']);
  });

  it('warm shutdown under load loses nothing: results + requeued = sent, and another worker finishes the rest', async () => {
    const app = h.app();
    const t = app.task('t.work', async (i: number) => {
      await sleep(1);
      return i;
    });
    const total = 1500;
    await t.applyMany(Array.from({ length: total }, (_, i) => [i]));
    const worker = await h.worker(app, { concurrency: 10, prefetchMultiplier: 8 });
    await waitFor(() => (worker.stats().executed >= 200 ? true : undefined));
    await worker.warmShutdown();
    expect(worker.state).toBe('stopped');
    expect(await h.broker.hlen('unacked')).toBe(0);
    expect(await h.broker.zcard('unacked_index')).toBe(0);
    const done = await resultCount();
    const queued = await h.broker.llen('celery');
    expect(done).toBeGreaterThanOrEqual(200);
    expect(done + queued).toBe(total);
    const redelivered = (await queuedIds()).filter((q) => q.redelivered === true);
    expect(redelivered.length).toBeGreaterThan(0);
    const second = await h.worker(app, { concurrency: 10 });
    await waitFor(async () => ((await resultCount()) === total ? true : undefined), 20_000);
    await second.warmShutdown();
    expect(await h.broker.llen('celery')).toBe(0);
  });

  it('hands prefetched messages back at once and lets the running task finish', async () => {
    const app = h.app();
    const hold = gate();
    const slow = app.task('t.slow', async (i: number) => {
      await hold.promise;
      return i;
    });
    const worker = await h.worker(app, { concurrency: 1, prefetchMultiplier: 4 });
    const results = await slow.applyMany([[1], [2], [3], [4]]);
    await waitFor(() => (worker.stats().held === 3 && worker.stats().running === 1 ? true : undefined));
    const stopping = worker.warmShutdown();
    // Three were waiting for a slot: back on the queue (redelivered) while the first still runs.
    await waitFor(async () => ((await h.broker.llen('celery')) === 3 ? true : undefined));
    expect(worker.state).toBe('draining');
    expect((await queuedIds()).map((q) => q.redelivered)).toEqual([true, true, true]);
    hold.open();
    await stopping;
    expect(await results[0]?.get({ timeout: 1000 })).toBe(1);
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('hands eta-waiting and rate-limited messages back at warm shutdown', async () => {
    const app = h.app();
    const t = app.task('t.later', () => 1);
    const limited = app.task('t.limited', () => 2, { rate_limit: '1/m' });
    const worker = await h.worker(app, { concurrency: 2 });
    const r = await t.applyAsync([], {}, { countdown: 60 });
    const l1 = await limited.delay();
    const l2 = await limited.delay();
    await waitFor(() => (worker.stats().eta === 1 && worker.stats().rateLimited === 1 ? true : undefined));
    await l1.get({ timeout: 5000 });
    await worker.warmShutdown();
    const queued = await queuedIds();
    expect(queued.map((q) => q.id).sort()).toEqual([r.id, l2.id].sort());
    expect(queued.every((q) => q.redelivered === true)).toBe(true);
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('past the drain deadline hands back an unfinished acks_late task', async () => {
    const app = h.app();
    const never = app.task('t.never', () => new Promise(() => {}), { acks_late: true });
    const worker = await h.worker(app, { concurrency: 1 });
    const r = await never.delay();
    await waitFor(() => (worker.stats().running === 1 ? true : undefined));
    const started = Date.now();
    await worker.warmShutdown(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await queuedIds()).toEqual([{ id: r.id, redelivered: true }]);
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('cold shutdown hands back acks_late tasks in flight at once; early-acked ones are logged as abandoned', async () => {
    const app = h.app();
    const late = app.task('t.late', () => new Promise(() => {}), { acks_late: true });
    const early = app.task('t.early', () => new Promise(() => {}));
    const log = new LogCapture();
    const worker = await h.worker(app, { concurrency: 2 }, log);
    const r1 = await late.delay();
    const r2 = await early.delay();
    await waitFor(() => (worker.stats().running === 2 ? true : undefined));
    await sleep(20);
    const started = Date.now();
    await worker.coldShutdown();
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await queuedIds()).map((q) => q.id)).toEqual([r1.id]);
    expect(log.events('worker.abandoned')[0]).toMatchObject({ task_ids: [r2.id] });
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('restores messages a dead consumer held once the visibility timeout has passed', async () => {
    const app = h.app({ broker_transport_options: { visibility_timeout: 1 } });
    const t = app.task('t.x', () => 'ran');
    const r = await t.delay();
    // A consumer that takes the message and dies without acking.
    const dead = new RedisBroker({ url: h.redis.url(0), logger: new LogCapture().logger });
    await dead.start();
    expect(await dead.fetchBatch(['celery'], 10)).toHaveLength(1);
    await dead.close();
    expect(await h.broker.hlen('unacked')).toBe(1);
    await h.worker(app);
    expect(await r.get({ timeout: 8000 })).toBe('ran');
  });
});
