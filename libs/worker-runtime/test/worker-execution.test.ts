import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../src/index.js';
import { gate, Harness, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

class ValueError extends Error {
  override name = 'ValueError';
}

const NAIVE_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

describe('worker: running tasks and storing results', () => {
  it('stores SUCCESS documents for sync and async tasks', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const later = app.task('t.later', async (x: string) => {
      await sleep(5);
      return { echoed: x };
    });
    await h.worker(app);
    const r1 = await add.delay(2, 3);
    const r2 = await later.delay('hi');
    expect(await r1.get({ timeout: 5000 })).toBe(5);
    expect(await r2.get({ timeout: 5000 })).toEqual({ echoed: 'hi' });
    const doc = await h.doc(r1.id);
    expect(doc).toMatchObject({ status: 'SUCCESS', result: 5, traceback: null, children: [], task_id: r1.id });
    expect(doc?.date_done).toMatch(NAIVE_UTC);
    expect(await h.results.ttl(`celery-task-meta-${r1.id}`)).toBeGreaterThan(86_000);
  });

  it('stores FAILURE with exc_type, exc_message, exc_module and the JS stack as traceback', async () => {
    const app = h.app();
    const boom = app.task('t.boom', function explode(n: number) {
      throw new ValueError(`bad value ${n}`);
    });
    const undef = app.task('t.undef', async () => {
      // biome-ignore lint/suspicious/noExplicitAny: provoke a ReferenceError-like TypeError
      return (undefined as any).nope;
    });
    await h.worker(app);
    const r = await boom.delay(42);
    const doc = await h.waitDoc(r.id);
    expect(doc.status).toBe('FAILURE');
    expect(doc.result).toEqual({ exc_type: 'ValueError', exc_message: ['bad value 42'], exc_module: 'builtins' });
    expect(doc.traceback).toContain('bad value 42');
    expect(doc.traceback).toContain('explode');
    await expect(r.get({ timeout: 1000 })).rejects.toThrow('bad value 42');
    const r2 = await undef.delay();
    const doc2 = await h.waitDoc(r2.id);
    expect(doc2.status).toBe('FAILURE');
    expect((doc2.result as { exc_type: string }).exc_type).toBe('TypeError');
  });

  it('maps kwargs onto params, passes them as a last object otherwise, refuses unknown ones', async () => {
    const app = h.app();
    app.task('t.sub', (a: number, b = 10) => a - b, { params: ['a', 'b'] });
    app.task('t.opts', (x: number, opts: { scale: number }) => x * opts.scale);
    await h.worker(app);
    const all = await app.sendTask('t.sub', [], { b: 3, a: 10 });
    const mixed = await app.sendTask('t.sub', [10], { b: 4 });
    const defaulted = await app.sendTask('t.sub', [], { a: 15 });
    const extra = await app.sendTask('t.opts', [2], { scale: 5 });
    const unknown = await app.sendTask('t.sub', [1], { c: 1 });
    expect(await all.get({ timeout: 5000 })).toBe(7);
    expect(await mixed.get({ timeout: 5000 })).toBe(6);
    expect(await defaulted.get({ timeout: 5000 })).toBe(5);
    expect(await extra.get({ timeout: 5000 })).toBe(10);
    const doc = await h.waitDoc(unknown.id);
    expect(doc.result).toMatchObject({ exc_type: 'TypeError', exc_module: 'builtins' });
    expect(JSON.stringify(doc.result)).toContain("unexpected keyword argument 'c'");
  });

  it('gives bind tasks a context', async () => {
    const app = h.app();
    const seen: TaskContext[] = [];
    const who = app.task(
      't.who',
      (ctx: TaskContext, x: number) => {
        seen.push(ctx);
        return `${ctx.name}:${x}`;
      },
      { bind: true },
    );
    await h.worker(app, { hostname: 'w1@box' });
    const r = await who.delay(7);
    expect(await r.get({ timeout: 5000 })).toBe('t.who:7');
    expect(seen[0]).toMatchObject({
      id: r.id,
      retries: 0,
      hostname: 'w1@box',
      args: [7],
      rootId: r.id,
      parentId: null,
    });
    expect(seen[0]?.signal.aborted).toBe(false);
  });

  it('stores custom states with ctx.updateState (e.g. PROGRESS with its meta)', async () => {
    const app = h.app();
    const hold = gate();
    const progress = app.task(
      't.progress',
      async (ctx: TaskContext) => {
        await ctx.updateState('PROGRESS', { done: 3, total: 10 });
        await hold.promise;
        return 'finished';
      },
      { bind: true },
    );
    await h.worker(app);
    const r = await progress.delay();
    const doc = await h.waitDoc(r.id, 'PROGRESS');
    expect(doc).toMatchObject({ status: 'PROGRESS', result: { done: 3, total: 10 }, date_done: null, task_id: r.id });
    hold.open();
    expect(await r.get({ timeout: 5000 })).toBe('finished');
  });

  it('stores nothing with ignore_result (task option, per call, or task_ignore_result)', async () => {
    const app = h.app();
    const quiet = app.task('t.quiet', () => 1, { ignore_result: true });
    const loud = app.task('t.loud', () => 2);
    await h.worker(app);
    const a = await quiet.delay();
    const b = await loud.applyAsync([], {}, { ignore_result: true });
    const c = await loud.delay();
    await h.waitDoc(c.id);
    await sleep(50);
    expect(await h.doc(a.id)).toBeNull();
    expect(await h.doc(b.id)).toBeNull();
    await h.reset();
    const app2 = h.app({ task_ignore_result: true });
    const t = app2.task('t.x', () => 3);
    const marker = app2.task('t.marker', () => 4, { ignore_result: false });
    await h.worker(app2);
    const d = await t.delay();
    const m = await marker.delay();
    await h.waitDoc(m.id);
    expect(await h.doc(d.id)).toBeNull();
  });

  it('stores STARTED only with task_track_started', async () => {
    const app = h.app({ task_track_started: true });
    const hold = gate();
    const slow = app.task('t.slow', async () => {
      await hold.promise;
      return 'done';
    });
    await h.worker(app);
    const r = await slow.delay();
    const started = await h.waitDoc(r.id, 'STARTED');
    expect(started).toMatchObject({
      status: 'STARTED',
      result: { pid: process.pid, hostname: 'test@host' },
      date_done: null,
    });
    hold.open();
    expect(await r.get({ timeout: 5000 })).toBe('done');
  });

  it('with result_extended stores name, args, kwargs, worker, retries, queue in Celery key order', async () => {
    const app = h.app({ result_extended: true, task_track_started: true });
    const hold = gate();
    const slow = app.task('t.slow_ack', async (n: number) => {
      await hold.promise;
      return `slept ${n}`;
    });
    await h.worker(app, { hostname: 'w6@wire' });
    const r = await slow.delay(2);
    const started = await h.waitDoc(r.id, 'STARTED');
    const keys = [
      'status',
      'result',
      'traceback',
      'children',
      'date_done',
      'name',
      'args',
      'kwargs',
      'worker',
      'retries',
      'queue',
      'task_id',
    ];
    expect(Object.keys(started)).toEqual(keys);
    expect(started).toMatchObject({
      name: 't.slow_ack',
      args: [2],
      kwargs: {},
      worker: 'w6@wire',
      retries: 0,
      queue: 'celery',
    });
    hold.open();
    const done = await h.waitDoc(r.id, 'SUCCESS');
    expect(Object.keys(done)).toEqual(keys);
    expect(done.result).toBe('slept 2');
  });

  it('runs at most `concurrency` tasks at once', async () => {
    const app = h.app();
    let running = 0;
    let peak = 0;
    const job = app.task('t.job', async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return true;
    });
    const worker = await h.worker(app, { concurrency: 3 });
    const results = await job.applyMany(Array.from({ length: 30 }, () => []));
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    expect(peak).toBe(3);
    await waitFor(() => (worker.stats().held === 0 ? true : undefined));
    expect(worker.stats()).toMatchObject({ running: 0, executed: 30 });
  });
});
