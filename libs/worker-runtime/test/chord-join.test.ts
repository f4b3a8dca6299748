// Chords joined by in-process workers (real Redis): bodies sent once by whichever worker finishes
// the last part, msgpack results, ignore_result parts, revoked parts, chain failure propagation,
// local errbacks (request, exc, traceback) and what is logged when no backend can count parts.
import { RedisBroker } from '@celeriac/broker';
import { chord, group } from '@celeriac/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrbackRequest } from '../src/errbacks.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

class ValueError extends Error {
  override name = 'ValueError';
}

describe('chord join in the worker', () => {
  it('two workers share a chord of 30 parts: the body runs exactly once with the results in order', async () => {
    const app = h.app();
    const add = app.task('t.add', async (a: number, b: number) => a + b);
    const bodies: unknown[] = [];
    const collect = app.task('t.collect', (values: number[]) => {
      bodies.push(values);
      return values.length;
    });
    const logs = [new LogCapture(), new LogCapture()];
    await h.worker(app, { concurrency: 4 }, logs[0]);
    await h.worker(app, { concurrency: 4, hostname: 'other@host' }, logs[1]);
    const r = await chord(
      Array.from({ length: 30 }, (_, i) => add.s(i, i)),
      collect.s(),
    ).applyAsync();
    expect(await r.get({ timeout: 10_000 })).toBe(30);
    expect(bodies).toEqual([Array.from({ length: 30 }, (_, i) => 2 * i)]);
    const sent = [...logs[0]!.events('worker.chord_body_sent'), ...logs[1]!.events('worker.chord_body_sent')];
    expect(sent).toHaveLength(1);
    expect(await h.results.keys('celery-taskset-meta-*')).toEqual([]);
  });

  it('with result_serializer msgpack and an ignore_result part, the chord still completes', async () => {
    const app = h.app({ result_serializer: 'msgpack', accept_content: ['json', 'msgpack'] });
    const quiet = app.task('t.quiet', (x: number) => x * 10, { ignore_result: true });
    const tsum = app.task('t.tsum', (values: number[]) => values.reduce((a, b) => a + b, 0));
    await h.worker(app);
    const r = await chord([quiet.s(1), quiet.s(2)], tsum.s()).applyAsync();
    expect(await r.get({ timeout: 10_000 })).toBe(30);
  });

  it('a failing part fails the body with ChordError and calls its Celery-5 errback in the worker', async () => {
    const app = h.app();
    const ok = app.task('t.ok', () => 1);
    const boom = app.task('t.boom', () => {
      throw new ValueError('boom');
    });
    const tsum = app.task('t.tsum', (values: number[]) => values.length);
    const seen: [ErrbackRequest, Error, string | null][] = [];
    const onError = app.task('t.on_error', (request: ErrbackRequest, exc: Error, traceback: string | null) => {
      seen.push([request, exc, traceback]);
    });
    await h.worker(app);
    // The chord's link_error goes to its body, as in Celery.
    const r = await chord([ok.s(), boom.s()], tsum.s()).applyAsync({ link_error: onError.s() });
    // get() throws the failed part's own error first (Celery's _maybe_reraise_parent_error) ...
    const partError = (await r.get({ timeout: 10_000 }).catch((e: unknown) => e)) as { excType?: string };
    expect(partError.excType).toBe('ValueError');
    // ... and the body's own result is the ChordError.
    const error = (await r.get({ timeout: 10_000, propagate: false })) as { excType?: string; excMessage: unknown[] };
    expect((error as { excType?: string }).excType).toBe('ChordError');
    const failedId = (r.parent as unknown as { results: { id: string }[] }).results[1]!.id;
    expect((error as { excMessage: unknown[] }).excMessage).toEqual([
      `Dependency ${failedId} raised ValueError('boom')`,
    ]);
    await waitFor(() => (seen.length === 1 ? true : undefined));
    expect(seen[0]![0]).toMatchObject({ id: r.id, task: 't.tsum' });
    expect(seen[0]![1].name).toBe('ChordError');
  });

  it('a revoked part makes the chord fail with ChordError (TaskRevokedError)', async () => {
    const app = h.app();
    const ok = app.task('t.ok', () => 1);
    const tsum = app.task('t.tsum', (values: number[]) => values.length);
    await h.worker(app);
    // An already expired part is REVOKED without running (Celery's expires), and counts as a part.
    const body = tsum.s();
    const late = ok.s();
    late.options.expires = -1;
    const r = await chord([ok.s(), late], body).applyAsync();
    const partError = (await r.get({ timeout: 10_000 }).catch((e: unknown) => e)) as Error;
    expect(partError.name).toBe('TaskRevokedError');
    const error = await r.get({ timeout: 10_000, propagate: false });
    expect(error).toMatchObject({ excType: 'ChordError' });
    expect(String((error as { excMessage: unknown[] }).excMessage[0])).toMatch(/raised TaskRevokedError\('expired'\)$/);
  });

  it('a failing chain step stores FAILURE for the later steps and calls a local errback with (request, exc, traceback)', async () => {
    const app = h.app();
    const boom = app.task('t.boom', () => {
      throw new ValueError('first');
    });
    const next = app.task('t.next', (x: unknown) => x);
    const seen: unknown[][] = [];
    const onError = app.task('t.on_error', (request: ErrbackRequest, exc: Error, traceback: string | null) => {
      seen.push([request.id, exc.message, typeof traceback]);
    });
    await h.worker(app);
    const first = boom.s();
    first.options.link_error = [onError.s()];
    const last = await app.chain(first, next.s(), next.s()).applyAsync();
    await expect(last.get({ timeout: 10_000 })).rejects.toMatchObject({ excType: 'ValueError' });
    const middle = last.parent;
    expect(middle).not.toBeNull();
    expect((await h.waitDoc(middle!.id)).status).toBe('FAILURE');
    await waitFor(() => (seen.length === 1 ? true : undefined));
    expect(seen[0]).toEqual([last.parent?.parent?.id, 'first', 'string']);
  });

  it('a group sent from the client stores group_id on each member result', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await h.worker(app);
    const g = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    expect(await g.get({ timeout: 10_000 })).toEqual([2, 4]);
    expect((await h.doc(g.results[0]!.id))?.group_id).toBe(g.id);
  });

  it('a chord part on a worker without a chord-capable backend is reported, not dropped silently', async () => {
    const app = h.app();
    const ok = app.task('t.ok', () => 1);
    const tsum = app.task('t.tsum', (values: number[]) => values.length);
    const log = new LogCapture();
    const stored: unknown[] = [];
    const broker = new RedisBroker({ url: h.redis.url(0), logger: log.logger });
    await broker.start();
    await h.worker(
      app,
      {
        broker,
        backend: {
          start: async () => undefined,
          close: async () => undefined,
          store: async (doc) => void stored.push(doc),
          storeMany: async (docs) => void stored.push(...docs),
        },
      },
      log,
    );
    await chord([ok.s()], tsum.s()).applyAsync();
    await waitFor(() => (log.events('worker.chord_unsupported').length === 1 ? true : undefined));
    // The part's own result was still stored; only the chord cannot complete.
    await waitFor(() => (stored.length === 1 ? true : undefined));
    await h.reset();
    await broker.close();
  });
});
