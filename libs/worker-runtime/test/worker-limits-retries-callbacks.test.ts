import { setTimeout as sleep } from 'node:timers/promises';
import { parseCeleryDate } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../src/index.js';
import { Harness, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

class ValueError extends Error {
  override name = 'ValueError';
}

interface Envelope {
  headers: Record<string, unknown>;
  properties: Record<string, unknown> & { delivery_tag: string };
}

describe('worker: time limits', () => {
  it('aborts ctx.signal at the soft limit: a task awaiting with it fails with SoftTimeLimitExceeded', async () => {
    const app = h.app();
    const t = app.task(
      't.soft',
      async (ctx: TaskContext) => {
        await sleep(5000, undefined, { signal: ctx.signal });
        return 'never';
      },
      { bind: true, soft_time_limit: 0.2 },
    );
    const started = Date.now();
    await h.worker(app);
    const r = await t.delay();
    const doc = await h.waitDoc(r.id);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'SoftTimeLimitExceeded', exc_module: 'billiard.exceptions' },
    });
  });

  it('stops waiting at the hard limit (task option or per call), stores TimeLimitExceeded and frees the slot', async () => {
    const app = h.app();
    const stuck = app.task('t.stuck', () => sleep(4000).then(() => 'late'), { time_limit: 0.3 });
    const plain = app.task('t.plain', () => sleep(4000).then(() => 'late'));
    const quick = app.task('t.quick', () => 'quick');
    await h.worker(app, { concurrency: 1 });
    const r1 = await stuck.delay();
    const r2 = await plain.applyAsync([], {}, { time_limit: 0.2 });
    const r3 = await quick.delay();
    const d1 = await h.waitDoc(r1.id);
    expect(d1).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'TimeLimitExceeded', exc_message: [0.3], exc_module: 'billiard.exceptions' },
    });
    expect((await h.waitDoc(r2.id)).result).toMatchObject({ exc_type: 'TimeLimitExceeded', exc_message: [0.2] });
    // concurrency 1: the quick task ran only because the hard limit freed the slot
    expect(await r3.get({ timeout: 3000 })).toBe('quick');
  });
});

describe('worker: retries', () => {
  it('republishes like Celery: same id, retries+1, new eta, parent_id = itself, new delivery tag; stores RETRY', async () => {
    const app = h.app();
    const t = app.task('t.retry_once', (ctx: TaskContext) => ctx.retry({ countdown: 60 }), { bind: true });
    const r = await t.delay(7);
    const original = JSON.parse((await h.broker.lindex('celery', 0)) as string) as Envelope;
    const worker = await h.worker(app);
    const retryDoc = await h.waitDoc(r.id, 'RETRY');
    expect(retryDoc).toMatchObject({
      status: 'RETRY',
      result: null,
      children: [[[r.id, null], null]],
      date_done: null,
    });
    expect(retryDoc.traceback).toContain('Retry in 60s');
    // The republished message came back to this worker and waits for its eta in memory (held).
    await waitFor(() => (worker.stats().eta === 1 ? true : undefined));
    const [entry] = await h.broker.hvals('unacked');
    const republished = (JSON.parse(entry as string) as [Envelope])[0];
    const eta = parseCeleryDate(republished.headers.eta as string) as Date;
    expect(eta.getTime() - Date.now()).toBeGreaterThan(55_000);
    expect(republished.headers.eta).toMatch(/\.\d{6}\+00:00$/);
    expect(republished.headers).toMatchObject({
      task: 't.retry_once',
      id: r.id,
      retries: 1,
      root_id: r.id,
      parent_id: r.id,
    });
    expect(republished.headers.origin).toMatch(/^gen\d+@/);
    expect(republished.properties).toMatchObject({
      correlation_id: r.id,
      replaced_task_nesting: 0,
      origin: original.headers.origin,
    });
    expect(republished.properties.delivery_tag).not.toBe(original.properties.delivery_tag);
  });

  it('retries until done and stores SUCCESS with parent_id = itself', async () => {
    const app = h.app();
    const t = app.task(
      't.flaky',
      (ctx: TaskContext, x: number) => {
        if (ctx.retries < 2) ctx.retry({ countdown: 0.05 });
        return { x, retries: ctx.retries };
      },
      { bind: true },
    );
    await h.worker(app);
    const r = await t.delay(7);
    expect(await r.get({ timeout: 5000 })).toEqual({ x: 7, retries: 2 });
    expect((await h.doc(r.id))?.parent_id).toBe(r.id);
  });

  it('stores RETRY before republishing, so a retry run at once is never overwritten by it', async () => {
    const app = h.app();
    const t = app.task(
      't.retry_now',
      (ctx: TaskContext, x: number) => {
        if (ctx.retries < 1) ctx.retry({ countdown: 0 });
        return x;
      },
      { bind: true },
    );
    await h.worker(app, { concurrency: 8 });
    // One at a time: each retry finds an idle worker and runs at once (a batch hid the race).
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await t.delay(i));
    for (const r of sent) await h.waitDoc(r.id, 'SUCCESS');
    // Whatever was still on its way to the backend has landed by now: every document stays SUCCESS.
    await sleep(300);
    const docs = await Promise.all(sent.map((r) => h.doc(r.id)));
    expect(docs.map((d) => d?.status)).toEqual(sent.map(() => 'SUCCESS'));
  });

  it('fails with MaxRetriesExceededError past max_retries, or with the given exc', async () => {
    const app = h.app();
    let runs = 0;
    const always = app.task(
      't.always',
      (ctx: TaskContext) => {
        runs++;
        return ctx.retry({ countdown: 0.02, max_retries: 2 });
      },
      { bind: true },
    );
    const withExc = app.task(
      't.withexc',
      (ctx: TaskContext) => ctx.retry({ countdown: 0.02, exc: new ValueError('still bad') }),
      { bind: true, max_retries: 1 },
    );
    await h.worker(app);
    const r1 = await always.delay();
    const r2 = await withExc.delay();
    const d1 = await h.waitDoc(r1.id, 'FAILURE');
    expect(d1.result).toMatchObject({ exc_type: 'MaxRetriesExceededError', exc_module: 'celery.exceptions' });
    expect(runs).toBe(3);
    const d2 = await h.waitDoc(r2.id, 'FAILURE');
    expect(d2.result).toEqual({ exc_type: 'ValueError', exc_message: ['still bad'], exc_module: 'builtins' });
  });

  it('retries automatically for autoretry_for errors', async () => {
    const app = h.app();
    let runs = 0;
    const t = app.task(
      't.auto',
      () => {
        runs++;
        if (runs < 3) throw new ValueError(`attempt ${runs}`);
        return runs;
      },
      { autoretry_for: ['ValueError'], default_retry_delay: 0.02 },
    );
    await h.worker(app);
    const r = await t.delay();
    expect(await r.get({ timeout: 5000 })).toBe(3);
  });
});

describe('worker: link, link_error and chains', () => {
  it('publishes link callbacks with [result] + args, parent_id/root_id = the parent', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const mul = app.task('t.mul', (a: number, b: number) => a * b);
    await h.worker(app);
    const r = await add.applyAsync([2, 3], {}, { link: mul.s(10) });
    expect(await r.get({ timeout: 5000 })).toBe(5);
    const parent = await h.waitDoc(r.id);
    expect(parent.children).toHaveLength(1);
    const childId = (parent.children[0] as [[string, null], null])[0][0];
    const child = await h.waitDoc(childId);
    expect(child).toMatchObject({ status: 'SUCCESS', result: 50, parent_id: r.id });
  });

  it('calls link_error callbacks with the failed task id', async () => {
    const app = h.app();
    const boom = app.task('t.boom', () => {
      throw new ValueError('boom');
    });
    const seen: unknown[][] = [];
    const onError = app.task('t.on_error', (...args: unknown[]) => {
      seen.push(args);
      return 'handled';
    });
    await h.worker(app);
    const r = await boom.applyAsync([], {}, { link_error: onError.s('extra') });
    await h.waitDoc(r.id, 'FAILURE');
    await waitFor(() => (seen.length === 1 ? true : undefined));
    expect(seen[0]).toEqual([r.id, 'extra']);
  });

  it('runs chains: pops the last step, prepends the result, passes the rest on', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const mul = app.task('t.mul', (a: number, b: number) => a * b);
    await h.worker(app);
    const first = add.s(1, 2);
    const last = await app.chain(first, mul.s(10), add.s(5)).applyAsync();
    expect(await last.get({ timeout: 5000 })).toBe(35);
    const lastDoc = await h.doc(last.id);
    const middleId = lastDoc?.parent_id as string;
    const middle = await h.doc(middleId);
    expect(middle).toMatchObject({ status: 'SUCCESS', result: 30, children: [[[last.id, null], null]] });
    expect(Object.keys(middle ?? {})).toEqual([
      'status',
      'result',
      'traceback',
      'children',
      'date_done',
      'parent_id',
      'task_id',
    ]);
    const head = await h.doc(middle?.parent_id as string);
    expect(head).toMatchObject({ status: 'SUCCESS', result: 3, children: [[[middleId, null], null]] });
  });
});
