import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gate, Harness, waitFor } from './support.js';

const h = new Harness();

/** `t.slow`, which returns 3 once `hold` is opened. */
function heldTask(app: ReturnType<Harness['app']>) {
  const hold = gate();
  const slow = app.task('t.slow', async () => {
    await hold.promise;
    return 3;
  });
  return { hold, slow };
}
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

/** Delivery tags currently in kombu's `unacked` hash, by task id. */
async function unackedTaskIds(): Promise<string[]> {
  const values = await h.broker.hvals('unacked');
  return values.map((v) => (JSON.parse(v) as [{ headers: { id: string } }])[0].headers.id).sort();
}

describe('worker: acks', () => {
  it('acks early (when the task starts) by default', async () => {
    const app = h.app();
    const hold = gate();
    const slow = app.task('t.slow', async () => {
      await hold.promise;
      return 1;
    });
    const worker = await h.worker(app, { concurrency: 1 });
    const r = await slow.delay();
    await waitFor(() => (worker.stats().running === 1 ? true : undefined));
    // Running, and its ack already went out: nothing left in unacked.
    await waitFor(async () => ((await h.broker.hlen('unacked')) === 0 ? true : undefined));
    hold.open();
    expect(await r.get({ timeout: 5000 })).toBe(1);
  });

  it('with acks_late keeps the message in unacked until the task has finished', async () => {
    const app = h.app();
    const hold = gate();
    const slow = app.task(
      't.late',
      async () => {
        await hold.promise;
        return 2;
      },
      { acks_late: true },
    );
    const worker = await h.worker(app, { concurrency: 1 });
    const r = await slow.delay();
    await waitFor(() => (worker.stats().running === 1 ? true : undefined));
    await sleep(50);
    expect(await unackedTaskIds()).toEqual([r.id]);
    expect(await h.broker.zcard('unacked_index')).toBe(1);
    hold.open();
    expect(await r.get({ timeout: 5000 })).toBe(2);
    await waitFor(async () => ((await h.broker.hlen('unacked')) === 0 ? true : undefined));
    expect(await h.broker.zcard('unacked_index')).toBe(0);
  });

  it('task_acks_late applies to every task; the prefetch limit caps what is held', async () => {
    const app = h.app({ task_acks_late: true, worker_prefetch_multiplier: 2 });
    const { hold, slow } = heldTask(app);
    const worker = await h.worker(app, { concurrency: 2 });
    const results = await slow.applyMany(Array.from({ length: 10 }, () => []));
    await waitFor(() => (worker.stats().running === 2 ? true : undefined));
    await sleep(100);
    // concurrency 2 × multiplier 2 = 4 held (2 running, 2 waiting), 6 left in the queue.
    expect(worker.stats().held).toBe(4);
    expect(await h.broker.hlen('unacked')).toBe(4);
    expect(await h.broker.llen('celery')).toBe(6);
    hold.open();
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
  });

  it('worker_prefetch_multiplier 0 is no prefetch limit, as in Celery: every queued message is held', async () => {
    const app = h.app({ task_acks_late: true, worker_prefetch_multiplier: 0 });
    const { hold, slow } = heldTask(app);
    const worker = await h.worker(app, { concurrency: 2, hostname: 'nolimit@test' });
    const results = await slow.applyMany(Array.from({ length: 250 }, () => []));
    await waitFor(() => (worker.stats().held === 250 ? true : undefined));
    expect(worker.stats().running).toBe(2);
    expect(await h.broker.llen('celery')).toBe(0);
    const stats = (await app.control.inspect({ destination: ['nolimit@test'] }).stats())['nolimit@test'] as {
      prefetch_count: number;
    };
    expect(stats.prefetch_count).toBe(0);
    hold.open();
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
  });
});

describe('worker: eta, countdown, expires', () => {
  it('holds a countdown task (popped, in unacked) until it is due', async () => {
    const app = h.app();
    const ran: number[] = [];
    const stamp = app.task('t.stamp', () => {
      ran.push(Date.now());
      return 'ok';
    });
    const worker = await h.worker(app);
    const sent = Date.now();
    const r = await stamp.applyAsync([], {}, { countdown: 0.8 });
    await waitFor(() => (worker.stats().eta === 1 ? true : undefined));
    expect(await h.broker.llen('celery')).toBe(0);
    expect(await unackedTaskIds()).toEqual([r.id]);
    expect(await r.get({ timeout: 5000 })).toBe('ok');
    expect((ran[0] as number) - sent).toBeGreaterThanOrEqual(780);
    const eta = new Date(Date.now() + 300);
    const r2 = await stamp.applyAsync([], {}, { eta });
    await r2.get({ timeout: 5000 });
    expect(ran[1] as number).toBeGreaterThanOrEqual(eta.getTime() - 2);
  });

  it('stores REVOKED (TaskRevokedError "expired") for an expired message and does not run it', async () => {
    const app = h.app();
    let runs = 0;
    const t = app.task('t.exp', () => ++runs);
    await h.worker(app);
    const r = await t.applyAsync([], {}, { expires: new Date(Date.now() - 30_000) });
    const doc = await h.waitDoc(r.id);
    expect(doc).toMatchObject({
      status: 'REVOKED',
      result: { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' },
      traceback: null,
      children: [],
    });
    // expires before its eta: revoked when it comes due, never run
    const r2 = await t.applyAsync([], {}, { countdown: 0.3, expires: 0.1 });
    expect((await h.waitDoc(r2.id)).status).toBe('REVOKED');
    expect(runs).toBe(0);
    await waitFor(async () => ((await h.broker.hlen('unacked')) === 0 ? true : undefined));
  });
});

describe('worker: rate limits', () => {
  it('runs a task type at its rate limit (task_annotations) without blocking other task types', async () => {
    const app = h.app({ task_annotations: { 't.limited': { rate_limit: '10/s' } } });
    const times: number[] = [];
    const limited = app.task('t.limited', () => {
      times.push(Date.now());
      return 1;
    });
    const free = app.task('t.free', () => Date.now());
    await h.worker(app, { concurrency: 8 });
    const results = await limited.applyMany(Array.from({ length: 8 }, () => []));
    await sleep(30);
    const sent = Date.now();
    const other = await free.delay();
    const freeRanAt = (await other.get({ timeout: 5000 })) as number;
    expect(freeRanAt - sent).toBeLessThan(1000);
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    // The other task type did not wait behind the limited ones.
    expect(freeRanAt).toBeLessThan(times[7] as number);
    // 8 tasks at 10/s: the first at once, then one per ~100 ms.
    const span = (times[7] as number) - (times[0] as number);
    expect(span).toBeGreaterThanOrEqual(650);
    expect(span).toBeLessThan(4000);
    const observedRate = 7 / (span / 1000);
    expect(observedRate).toBeLessThanOrEqual(10.8);
    expect(observedRate).toBeGreaterThan(4);
  });

  it('refuses to start with an invalid rate limit, naming every bad task', async () => {
    // The client refuses a bad rate_limit in the task options at app.task(); annotations reach the worker.
    const app = h.app({ task_annotations: { 't.a': { rate_limit: '10/d' }, 't.b': { rate_limit: 'fast' } } });
    app.task('t.a', () => 1);
    app.task('t.b', () => 2);
    app.task('t.c', () => 3, { rate_limit: '5/s' });
    const error = await h.worker(app).then(
      () => null,
      (e: unknown) => e as Error & { code: string },
    );
    expect(error?.code).toBe('WORKER_BAD_SETTING');
    expect(error?.message).toContain('t.a');
    expect(error?.message).toContain('t.b');
    expect(error?.message).not.toContain('t.c');
  });

  it('takes rate_limit from the task options too', async () => {
    const app = h.app();
    const times: number[] = [];
    const t = app.task('t.rl', () => times.push(Date.now()), { rate_limit: '300/m' });
    await h.worker(app);
    const results = await t.applyMany(Array.from({ length: 4 }, () => []));
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    // 300/m = 5/s: 3 gaps of ~200 ms
    expect((times[3] as number) - (times[0] as number)).toBeGreaterThanOrEqual(550);
  });
});
