// Issue 8 in one process: eta messages never take prefetch slots and beyond the horizon wait in the
// broker's delayed set; leases keep a live worker's long tasks and near etas from being restored;
// messages past the redelivery limit are dead-lettered with a FAILURE; the revoke hook.
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeTaskEnvelope, markRedelivered } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

/** Every id's document is SUCCESS; resolves with the time it took. */
async function allDone(ids: string[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  const keys = ids.map((id) => `celery-task-meta-${id}`);
  await waitFor(async () => {
    const docs = await h.results.mget(keys);
    return docs.every((d) => d !== null && JSON.parse(d).status === 'SUCCESS') ? true : undefined;
  }, timeoutMs);
  return Date.now() - started;
}

describe('eta without stalls or duplicates', () => {
  it('countdowns beyond the horizon go to the delayed set, acked, and take no prefetch slot', async () => {
    const app = h.app();
    const later = app.task('t.later', () => 'later');
    const now = app.task('t.now', () => 'now');
    const log = new LogCapture();
    const worker = await h.worker(app, { concurrency: 2, prefetchMultiplier: 1 }, log);
    for (let i = 0; i < 20; i++) await later.applyAsync([], {}, { countdown: 600 });
    const ids = [];
    for (let i = 0; i < 20; i++) ids.push((await now.delay()).id);
    const tookMs = await allDone(ids, 5_000);
    await waitFor(() => (worker.stats().deferred === 20 ? true : undefined));
    console.log(`eta horizon: 20 countdown=600 then 20 normal on -c 2 (prefetch 2): normal done in ${tookMs} ms`);
    expect(await h.broker.zcard('celeriac.delayed')).toBe(20);
    expect(await h.broker.hlen('unacked')).toBe(0);
    expect(worker.stats()).toMatchObject({ held: 0, eta: 0 });
    expect(log.events('worker.eta_deferred').length).toBeGreaterThan(0);
  });

  it('etas within the horizon wait in memory and still take no prefetch slot', async () => {
    const app = h.app({ celeriac_eta_horizon: 120 });
    const later = app.task('t.later', () => 'later');
    const now = app.task('t.now', () => 'now');
    const worker = await h.worker(app, { concurrency: 1, prefetchMultiplier: 1 });
    for (let i = 0; i < 10; i++) await later.applyAsync([], {}, { countdown: 60 });
    await waitFor(() => (worker.stats().eta === 10 ? true : undefined));
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push((await now.delay()).id);
    await allDone(ids, 5_000);
    expect(worker.stats()).toMatchObject({ eta: 10, deferred: 0 });
    expect(await h.broker.zcard('celeriac.delayed')).toBe(0);
  });

  it('an eta in year 9999 goes to the delayed set and the log says so', async () => {
    const app = h.app();
    const t = app.task('t.never', () => 'never');
    const log = new LogCapture();
    const worker = await h.worker(app, {}, log);
    for (let i = 0; i < 20; i++) await t.applyAsync([], {}, { eta: new Date(Date.UTC(9999, 11, 31)) });
    await waitFor(() => (worker.stats().deferred === 20 ? true : undefined));
    expect(await h.broker.hlen('unacked')).toBe(0);
    const lines = log.events('worker.eta_deferred').filter((l) => l.level === 30);
    expect(lines.reduce((n, l) => n + Number(l.far_future), 0)).toBe(20);
    expect(lines[0]?.latest_eta).toMatch(/^9999-12-31T/);
  });

  it('an eta past the visibility timeout runs exactly once, at its eta, with two workers', async () => {
    const app = h.app({ broker_transport_options: { visibility_timeout: 1 } });
    const runs: number[] = [];
    const t = app.task('t.once', () => {
      runs.push(Date.now());
      return 'once';
    });
    await h.worker(app, { hostname: 'a@host' });
    await h.worker(app, { hostname: 'b@host' });
    const eta = new Date(Date.now() + 2_500);
    const r = await t.applyAsync([], {}, { eta });
    expect(await r.get({ timeout: 10_000 })).toBe('once');
    await sleep(2_000);
    console.log(
      `eta past a 1 s visibility timeout: ran ${runs.length} time(s), ${runs[0]! - eta.getTime()} ms after its eta`,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]!).toBeGreaterThanOrEqual(eta.getTime() - 5);
  });
});

describe('leases', () => {
  it('a task longer than the visibility timeout runs once while its worker lives', async () => {
    const app = h.app({ broker_transport_options: { visibility_timeout: 1 }, task_acks_late: true });
    let runs = 0;
    const t = app.task('t.long', async () => {
      runs++;
      await sleep(3_500);
      return 'long';
    });
    await h.worker(app, { hostname: 'a@host', concurrency: 1 });
    await h.worker(app, { hostname: 'b@host', concurrency: 1 });
    const r = await t.delay();
    expect(await r.get({ timeout: 15_000 })).toBe('long');
    console.log(`3.5 s task with a 1 s visibility timeout and two workers: ran ${runs} time(s)`);
    expect(runs).toBe(1);
  });
});

describe('poison messages and the revoke hook', () => {
  it('a message past the redelivery limit gets a FAILURE result and is dead-lettered', async () => {
    const app = h.app({ celeriac_redelivery_limit: 5 });
    app.task('t.crashy', () => 'x');
    const log = new LogCapture();
    await h.worker(app, {}, log);
    const id = '55555555-5555-4555-8555-555555555555';
    const raw = encodeTaskEnvelope({ id, task: 't.crashy', args: [], kwargs: {}, queue: 'celery' });
    await h.broker.lpush('celeriac.redelivery-limit', `celery\x06\x166\x06\x16${raw}`);
    const doc = await h.waitDoc(id);
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'WorkerLostError', exc_module: 'billiard.exceptions' },
    });
    const record = await waitFor(async () => (await h.broker.lindex('celeriac.dead-letter', 0)) ?? undefined);
    expect(JSON.parse(record)).toMatchObject({
      reason: 'redelivery_limit',
      task_id: id,
      task: 't.crashy',
      redeliveries: 6,
    });
    expect(log.events('worker.redelivery_limit')[0]).toMatchObject({ task_id: id, redeliveries: 6 });
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('a redelivered message that was running when a worker died runs alone, its start recorded first', async () => {
    const app = h.app();
    const spans: Record<string, [number, number]> = {};
    const slow = app.task('t.slow', async (name: string) => {
      const start = Date.now();
      await sleep(300);
      spans[name] = [start, Date.now()];
    });
    const log = new LogCapture();
    const worker = await h.worker(app, { concurrency: 4 }, log);
    await slow.delay('before-1');
    await slow.delay('before-2');
    await waitFor(() => (worker.stats().running === 2 ? true : undefined));
    const raw = encodeTaskEnvelope({
      id: 'suspect-id',
      task: 't.slow',
      args: ['suspect'],
      kwargs: {},
      queue: 'celery',
    });
    const tag = JSON.parse(raw).properties.delivery_tag as string;
    await h.broker.set(`celeriac.redeliveries.${tag}`, '1');
    await h.broker.lpush('celery', markRedelivered(raw));
    await waitFor(() => (log.events('worker.task_suspect').length === 1 ? true : undefined));
    await slow.delay('after');
    await waitFor(() => (Object.keys(spans).length === 4 ? true : undefined), 5_000);
    const [sStart, sEnd] = spans.suspect!;
    expect(sStart).toBeGreaterThanOrEqual(Math.max(spans['before-1']![1], spans['before-2']![1]));
    expect(spans.after![0]).toBeGreaterThanOrEqual(sEnd);
    expect(log.events('worker.task_suspect')[0]).toMatchObject({ task_id: 'suspect-id', crashes: 1 });
    // Marked while it ran, forgotten with its ack.
    await waitFor(async () =>
      (await h.broker.exists('celeriac.started.test@host:' + process.pid)) === 0 ? true : undefined,
    );
  });

  it('a delayed message of a task in the revoke set (celeriac.revoked) gets REVOKED when due and never runs', async () => {
    const app = h.app({ celeriac_eta_horizon: 0.1 });
    let runs = 0;
    const t = app.task('t.revocable', () => ++runs);
    const worker = await h.worker(app);
    const r = await t.applyAsync([], {}, { countdown: 1 });
    await waitFor(() => (worker.stats().deferred === 1 ? true : undefined));
    // The control plane's shared revoke set: a sorted set of task ids scored by revoke time.
    await h.broker.zadd('celeriac.revoked', Date.now(), r.id);
    const doc = await h.waitDoc(r.id);
    expect(doc).toMatchObject({
      status: 'REVOKED',
      result: { exc_type: 'TaskRevokedError', exc_message: ['revoked'] },
    });
    expect(runs).toBe(0);
    expect(await h.broker.zcard('celeriac.delayed')).toBe(0);
  });
});
