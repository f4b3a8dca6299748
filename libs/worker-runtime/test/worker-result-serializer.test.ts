// The worker stores its results in result_serializer (json or msgpack), as Celery 5.2 does.
import { decodeResultBytes, type ResultDocument, sniffResultSerializer } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../src/index.js';
import { gate, Harness, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

const MSGPACK = { result_serializer: 'msgpack', accept_content: ['json', 'msgpack'] };

/** The stored bytes of a task's document: which serializer wrote it, and what it holds. */
async function stored(id: string, status?: string): Promise<{ serializer: string; doc: ResultDocument }> {
  return waitFor(async () => {
    const raw = await h.results.getBuffer(`celery-task-meta-${id}`);
    if (raw === null) return undefined;
    const serializer = sniffResultSerializer(raw);
    if (serializer === undefined) throw new Error(`not a result document: ${raw.toString('hex')}`);
    const doc = decodeResultBytes(raw, serializer, id);
    if (status !== undefined && doc.status !== status) return undefined;
    return { serializer, doc };
  });
}

describe('worker: result_serializer', () => {
  it('msgpack: SUCCESS, FAILURE, STARTED, updateState and rejections are all stored as msgpack', async () => {
    const app = h.app({ ...MSGPACK, task_track_started: true });
    const hold = gate();
    const add = app.task('t.add', (a: number, b: number) => ({ sum: a + b, big: 2n ** 40n }));
    const boom = app.task('t.boom', () => {
      throw new TypeError('no');
    });
    const progress = app.task(
      't.progress',
      async (ctx: TaskContext) => {
        await ctx.updateState('PROGRESS', { done: 1 });
        await hold.promise;
        return 'ok';
      },
      { bind: true },
    );
    await h.worker(app);
    const r1 = await add.delay(2, 3);
    const r2 = await boom.delay();
    const r3 = await progress.delay();
    const r4 = await app.sendTask('t.nobody');
    expect(await r1.get({ timeout: 5000 })).toEqual({ sum: 5, big: 2 ** 40 });
    await expect(r2.get({ timeout: 5000 })).rejects.toThrow('no');
    expect(await stored(r1.id)).toMatchObject({ serializer: 'msgpack', doc: { status: 'SUCCESS', task_id: r1.id } });
    expect(await stored(r2.id)).toMatchObject({
      serializer: 'msgpack',
      doc: { status: 'FAILURE', result: { exc_type: 'TypeError', exc_module: 'builtins' } },
    });
    expect(await stored(r3.id, 'PROGRESS')).toMatchObject({ serializer: 'msgpack', doc: { result: { done: 1 } } });
    hold.open();
    expect(await r3.get({ timeout: 5000 })).toBe('ok');
    expect(await stored(r4.id)).toMatchObject({
      serializer: 'msgpack',
      doc: { status: 'FAILURE', result: { exc_type: 'NotRegistered' } },
    });
  });

  it('msgpack: STARTED is msgpack too, and a result msgpack cannot hold is an EncodeError FAILURE', async () => {
    const app = h.app({ ...MSGPACK, task_track_started: true });
    const hold = gate();
    const slow = app.task('t.slow', async () => {
      await hold.promise;
      return 1;
    });
    const cyclic = app.task('t.cyclic', () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    });
    const huge = app.task('t.huge', () => 2n ** 80n);
    await h.worker(app);
    const r1 = await slow.delay();
    expect(await stored(r1.id, 'STARTED')).toMatchObject({ serializer: 'msgpack', doc: { date_done: null } });
    hold.open();
    for (const r of [await cyclic.delay(), await huge.delay()]) {
      const { serializer, doc } = await stored(r.id);
      expect(serializer).toBe('msgpack');
      expect(doc).toMatchObject({
        status: 'FAILURE',
        result: { exc_type: 'EncodeError', exc_module: 'kombu.exceptions' },
      });
      expect(String((doc.result as { exc_message: unknown[] }).exc_message[0])).toContain('encoded as msgpack');
    }
  });

  it('json (the default) stays the JSON text it always was', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await h.worker(app);
    const r = await add.delay(1, 2);
    expect(await r.get({ timeout: 5000 })).toBe(3);
    const text = await h.results.get(`celery-task-meta-${r.id}`);
    expect(text).toMatch(/^\{"status": "SUCCESS", "result": 3, "traceback": null, "children": \[\], "date_done": "/);
  });

  it('with task_track_started, an updateState at the start of a task is not overwritten by STARTED', async () => {
    const app = h.app({ task_track_started: true });
    const hold = gate();
    const progress = app.task(
      't.progress',
      async (ctx: TaskContext) => {
        await ctx.updateState('PROGRESS', { done: 1 });
        await hold.promise;
        return 'ok';
      },
      { bind: true },
    );
    await h.worker(app);
    const r = await progress.delay();
    await h.waitDoc(r.id, 'PROGRESS');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await h.doc(r.id))?.status).toBe('PROGRESS');
    hold.open();
    expect(await r.get({ timeout: 5000 })).toBe('ok');
  });

  it.each([['pickle'], ['yaml'], ['application/x-msgpack']])(
    'refuses result_serializer %j at start with WORKER_BAD_SETTING instead of storing JSON',
    async (serializer) => {
      const app = h.app({ result_serializer: serializer });
      app.task('t.add', (a: number, b: number) => a + b);
      const failure = await h.worker(app).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'WORKER_BAD_SETTING' });
      expect((failure as Error).message).toContain(`result_serializer ${JSON.stringify(serializer)} is not supported`);
      expect((failure as Error).message).toContain('"json" or "msgpack"');
    },
  );
});
