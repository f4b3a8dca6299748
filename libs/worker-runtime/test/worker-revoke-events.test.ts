import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventTap } from '../../../test/support/celery-events.js';
import type { TaskContext } from '../src/index.js';
import { gate, Harness, waitFor } from './support.js';

/** Revokes that hold (waiting, running, before a worker starts) and the celeryev events a worker sends. */

const h = new Harness();
let tap: EventTap;
beforeAll(async () => {
  await h.start();
  tap = await EventTap.start(h.redis.url(0));
});
afterEach(async () => {
  await h.reset();
  tap.events.length = 0;
});
afterAll(async () => {
  await tap?.stop();
  await h.stop();
});

const NODE = 'rev@test';
const ONE = { destination: [NODE], timeoutMs: 2_000 };

describe('worker: revoke', () => {
  it('drops a waiting task at once (countdown, prefetched) with REVOKED; it never runs', async () => {
    const app = h.app();
    const runs: number[] = [];
    const hold = gate();
    const record = app.task('t.record', async (n: number) => {
      runs.push(n);
      await hold.promise;
      return n;
    });
    await h.worker(app, { hostname: NODE, concurrency: 1 });
    const busy = await record.delay(0);
    const prefetched = await record.delay(1);
    const countdown = await record.applyAsync([2], {}, { countdown: 20 });
    await waitFor(async () => {
      const scheduled = (await app.control.inspect(ONE).scheduled())[NODE] as unknown[] | undefined;
      return scheduled?.length === 1 || undefined;
    });
    await countdown.revoke();
    await prefetched.revoke();
    const doc = await h.waitDoc(countdown.id, 'REVOKED', 2_000);
    expect(doc.result).toEqual({
      exc_type: 'TaskRevokedError',
      exc_message: ['revoked'],
      exc_module: 'celery.exceptions',
    });
    await h.waitDoc(prefetched.id, 'REVOKED', 2_000);
    await expect(countdown.get({ timeout: 1_000 })).rejects.toMatchObject({ code: 'CLIENT_TASK_REVOKED' });
    expect((await app.control.inspect(ONE).scheduled())[NODE]).toEqual([]);
    expect((await app.control.inspect(ONE).revoked())[NODE]).toEqual([countdown.id, prefetched.id]);
    hold.open();
    expect(await busy.get({ timeout: 5_000 })).toBe(0);
    await sleep(200);
    expect(runs).toEqual([0]);
  });

  it('terminate aborts a running task (ctx.signal fires) and stores REVOKED within 2 s', async () => {
    const app = h.app();
    let reason: unknown;
    const wait = app.task(
      't.wait',
      (ctx: TaskContext) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
      { bind: true },
    );
    const deaf = app.task('t.deaf', () => sleep(1_500).then(() => 'done'), { time_limit: 1 });
    const worker = await h.worker(app, { hostname: NODE, concurrency: 2 });
    const r = await wait.delay();
    const d = await deaf.delay();
    await waitFor(() => (worker.stats().running === 2 ? true : undefined));
    const t0 = Date.now();
    const replies = await app.control.revoke([r.id, d.id], { terminate: true, reply: true, ...ONE });
    expect(replies).toEqual([{ [NODE]: { ok: `terminate: ${r.id}, ${d.id}` } }]);
    const doc = await h.waitDoc(r.id, 'REVOKED', 2_000);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(doc.result).toMatchObject({ exc_type: 'TaskRevokedError', exc_message: ['terminated'] });
    expect((reason as Error).name).toBe('TaskRevokedError');
    // The task that ignores its signal: REVOKED now, its slot freed at its hard limit, and REVOKED stays.
    await h.waitDoc(d.id, 'REVOKED', 2_000);
    await waitFor(() => (worker.stats().running === 0 ? true : undefined), 3_000);
    await sleep(700);
    expect((await h.doc(d.id))?.status).toBe('REVOKED');
    expect(tap.of('task-revoked', r.id)).toEqual([]); // task events are off
  });

  it('a worker started after the revoke drops the task (shared revoked set)', async () => {
    const app = h.app();
    let ran = false;
    const once = app.task('t.once', () => {
      ran = true;
    });
    const id = 'revoked-before-start';
    await app.control.revoke(id);
    await once.applyAsync([], {}, { task_id: id });
    await h.worker(app, { hostname: NODE });
    expect((await h.waitDoc(id, 'REVOKED', 5_000)).result).toMatchObject({ exc_message: ['revoked'] });
    expect(ran).toBe(false);
  });
});

describe('worker: events', () => {
  it('sends worker-online, heartbeats every 2 s and worker-offline, and no task event without -E', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const worker = await h.worker(app, { hostname: NODE });
    await waitFor(() => (tap.of('worker-online').length === 1 ? true : undefined));
    await (await add.delay(1, 2)).get({ timeout: 5_000 });
    await waitFor(() => (tap.of('worker-heartbeat').length >= 1 ? true : undefined), 4_000);
    const beat = tap.of('worker-heartbeat')[0];
    expect(beat).toMatchObject({ hostname: NODE, freq: 2, sw_ident: 'celeriac', pid: process.pid, processed: 1 });
    await worker.warmShutdown();
    await waitFor(() => (tap.of('worker-offline').length === 1 ? true : undefined));
    expect(tap.events.filter((e) => e.type.startsWith('task-'))).toEqual([]);
  });

  it('with -E: received, started, succeeded, failed, retried and revoked, in Celery shape', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    const boom = app.task('t.boom', () => {
      throw new TypeError('bad');
    });
    const again = app.task('t.again', (ctx: TaskContext) => (ctx.retries < 1 ? ctx.retry({ countdown: 0.1 }) : 'ok'), {
      bind: true,
    });
    await h.worker(app, { hostname: NODE, taskEvents: true });
    const ok = await add.delay(2, 3);
    const bad = await boom.delay();
    const retried = await again.delay();
    await ok.get({ timeout: 5_000 });
    await h.waitDoc(bad.id, 'FAILURE');
    await retried.get({ timeout: 5_000 });
    const unknown = await app.sendTask('t.unknown', []);
    await h.waitDoc(unknown.id, 'FAILURE');
    const late = await add.applyAsync([1, 1], {}, { countdown: 30 });
    await waitFor(() => (tap.of('task-received', late.id).length === 1 ? true : undefined));
    await late.revoke();
    await waitFor(() => (tap.of('task-revoked', late.id).length === 1 ? true : undefined));
    await waitFor(() => (tap.typesOf(retried.id).length >= 6 ? true : undefined));

    expect(tap.typesOf(ok.id)).toEqual(['task-received', 'task-started', 'task-succeeded']);
    expect(tap.of('task-received', ok.id)[0]).toMatchObject({
      hostname: NODE,
      name: 't.add',
      args: '(2, 3)',
      kwargs: '{}',
      retries: 0,
      eta: null,
      root_id: ok.id,
      parent_id: null,
    });
    const succeeded = tap.of('task-succeeded', ok.id)[0];
    expect(succeeded).toMatchObject({ result: '5' });
    expect(succeeded?.runtime).toBeGreaterThanOrEqual(0);
    expect(tap.typesOf(bad.id)).toEqual(['task-received', 'task-started', 'task-failed']);
    expect(tap.of('task-failed', bad.id)[0]).toMatchObject({ exception: "TypeError('bad')" });
    // The retry's message is published before task-retried goes out (as Celery): it may be received first.
    expect(tap.typesOf(retried.id).sort()).toEqual(
      ['task-received', 'task-received', 'task-retried', 'task-started', 'task-started', 'task-succeeded'].sort(),
    );
    expect(tap.of('task-retried', retried.id)[0]).toMatchObject({ exception: "Retry('Retry in 0.1s')" });
    expect(tap.of('task-revoked', late.id)[0]).toMatchObject({ terminated: false, signum: null, expired: false });
    await waitFor(() => (tap.typesOf(unknown.id).length > 0 ? true : undefined));
    // An unknown task: task-failed with NotRegistered and no traceback, as Celery's consumer sends it.
    expect(tap.typesOf(unknown.id)).toEqual(['task-failed']);
    expect(tap.of('task-failed', unknown.id)[0]).toMatchObject({ exception: "NotRegistered('t.unknown')" });
    expect(tap.of('task-failed', unknown.id)[0]).not.toHaveProperty('traceback');
  });

  it('enable_events / disable_events switch task events at runtime', async () => {
    const app = h.app();
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await h.worker(app, { hostname: NODE });
    const before = await add.delay(1, 1);
    await before.get({ timeout: 5_000 });
    expect(await app.control.enableEvents(ONE)).toEqual([{ [NODE]: { ok: 'task events enabled' } }]);
    const during = await add.delay(2, 2);
    await during.get({ timeout: 5_000 });
    await waitFor(() => (tap.of('task-succeeded', during.id).length === 1 ? true : undefined));
    await app.control.disableEvents(ONE);
    const after = await add.delay(3, 3);
    await after.get({ timeout: 5_000 });
    await sleep(100);
    expect(tap.typesOf(before.id)).toEqual([]);
    expect(tap.typesOf(after.id)).toEqual([]);
  });
});
