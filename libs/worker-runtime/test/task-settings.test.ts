import { DEFAULT_DEAD_LETTER_KEY } from '@celeriac/broker';
import { signature } from '@celeriac/client';
import { priorityQueueName } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

interface DeadLetter {
  reason: string;
  task_id: string | null;
  queue: string;
}

async function deadLetters(): Promise<DeadLetter[]> {
  return (await h.broker.lrange(DEFAULT_DEAD_LETTER_KEY, 0, -1)).map((s) => JSON.parse(s) as DeadLetter);
}

/** Waits until the worker holds no unacked message. */
async function settled(): Promise<void> {
  await waitFor(async () => ((await h.broker.hlen('unacked')) === 0 ? true : undefined), 10_000);
}

interface Envelope {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}

async function queued(list: string): Promise<Envelope[]> {
  return (await h.broker.lrange(list, 0, -1)).reverse().map((raw) => JSON.parse(raw) as Envelope);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('task_acks_on_failure_or_timeout', () => {
  it('false, with acks_late: failed and hard-timed-out messages are rejected to the dead-letter list, FAILURE stored', async () => {
    const app = h.app({ task_acks_late: true, task_acks_on_failure_or_timeout: false });
    const fail = app.task('t.fail', () => {
      throw new RangeError('no good');
    });
    const stuck = app.task('t.stuck', () => sleep(5000).then(() => 'late'), { time_limit: 0.3 });
    const ok = app.task('t.ok', () => 'fine');
    const log = new LogCapture();
    await h.worker(app, {}, log);
    const [f, s, o] = [await fail.delay(), await stuck.delay(), await ok.delay()];
    expect((await h.waitDoc(f.id, 'FAILURE')).result).toMatchObject({ exc_type: 'ValueError' });
    expect((await h.waitDoc(s.id, 'FAILURE', 15_000)).result).toMatchObject({ exc_type: 'TimeLimitExceeded' });
    expect((await h.waitDoc(o.id, 'SUCCESS')).result).toBe('fine');
    const dead = await waitFor(async () => {
      const list = await deadLetters();
      return list.length === 2 ? list : undefined;
    }, 10_000);
    expect(dead.map((d) => d.task_id).sort()).toEqual([f.id, s.id].sort());
    for (const d of dead) expect(d.reason).toMatch(/^task_failed: /);
    expect(dead.find((d) => d.task_id === f.id)?.reason).toContain('RangeError: no good');
    expect(
      log
        .events('worker.failed_task_rejected')
        .map((l) => l.task_id)
        .sort(),
    ).toEqual([f.id, s.id].sort());
    await settled();
    expect(await h.broker.llen('celery')).toBe(0);
  }, 30_000);

  it('true (the default), or without acks_late: failed messages are acked, nothing dead-lettered', async () => {
    const late = h.app({ task_acks_late: true });
    const lateFail = late.task('t.fail', () => {
      throw new Error('x');
    });
    await h.worker(late);
    const a = await lateFail.delay();
    await h.waitDoc(a.id, 'FAILURE');

    const early = h.app({ task_acks_on_failure_or_timeout: false });
    const earlyFail = early.task('t.fail2', () => {
      throw new Error('y');
    });
    await h.worker(early, { queues: ['early'] });
    const b = await earlyFail.applyAsync([], {}, { queue: 'early' });
    await h.waitDoc(b.id, 'FAILURE');
    await settled();
    expect(await deadLetters()).toEqual([]);
  }, 30_000);
});

describe('task_store_errors_even_if_ignored', () => {
  it('true: an ignore_result task stores its FAILURE (not its SUCCESS); unset: it stores nothing', async () => {
    const app = h.app({ task_store_errors_even_if_ignored: true });
    const fail = app.task(
      't.fail',
      () => {
        throw new TypeError('bad');
      },
      { ignore_result: true },
    );
    const ok = app.task('t.ok', () => 1, { ignore_result: true });
    await h.worker(app);
    const [f, o] = [await fail.delay(), await ok.delay()];
    expect((await h.waitDoc(f.id, 'FAILURE')).result).toMatchObject({ exc_type: 'TypeError' });
    // Per call too (ignore_result option of the message).
    const perCall = app.task('t.fail2', () => {
      throw new Error('per call');
    });
    const p = await perCall.applyAsync([], {}, { ignore_result: true });
    await h.waitDoc(p.id, 'FAILURE');
    await settled();
    expect(await h.doc(o.id)).toBeNull();

    const plain = h.app();
    const plainFail = plain.task(
      't.fail3',
      () => {
        throw new TypeError('bad');
      },
      { ignore_result: true },
    );
    const probe = plain.task('t.probe', () => 'done');
    await h.worker(plain, { queues: ['plain'], concurrency: 1 });
    const q = await plainFail.applyAsync([], {}, { queue: 'plain' });
    const done = await probe.applyAsync([], {}, { queue: 'plain' });
    await h.waitDoc(done.id, 'SUCCESS');
    await settled();
    expect(await h.doc(q.id)).toBeNull();
  }, 30_000);
});

describe('task_inherit_parent_priority', () => {
  it('on: a task sent from inside a task, and its link callbacks, get its priority; its parent and root are set', async () => {
    const app = h.app({ task_inherit_parent_priority: true });
    const child = app.task('t.child', (x: number) => x);
    const own = app.task('t.own', (x: number) => x, { priority: 2 });
    const parent = app.task('t.parent', async () => {
      await child.applyAsync([1], {}, { queue: 'kids' });
      await child.applyAsync([2], {}, { queue: 'kids', priority: 3 });
      await own.applyAsync([3], {}, { queue: 'kids' });
      await app.sendTask('py.other', [4], {}, { queue: 'kids' });
      return 'p';
    });
    await h.worker(app);
    const r = await parent.applyAsync([], {}, { priority: 9, link: signature('t.child', [], {}, { queue: 'kids' }) });
    await h.waitDoc(r.id, 'SUCCESS');
    const p9 = await waitFor(async () => {
      const list = await queued(priorityQueueName('kids', 9));
      return list.length === 3 ? list : undefined;
    });
    expect(p9.map((m) => m.headers.task).sort()).toEqual(['py.other', 't.child', 't.child']);
    for (const m of p9) {
      expect(m.properties.priority).toBe(9);
      expect(m.headers.parent_id).toBe(r.id);
      expect(m.headers.root_id).toBe(r.id);
    }
    // The call's own priority, and the task's own option, win.
    const p3 = await queued(priorityQueueName('kids', 3));
    expect(p3.map((m) => [m.headers.task, m.properties.priority])).toEqual([['t.child', 3]]);
    expect((await queued(priorityQueueName('kids', 2))).map((m) => m.headers.task)).toEqual(['t.own']);
  }, 30_000);

  it('off (the default): children get their own priority, still with the parent and root', async () => {
    const app = h.app();
    const child = app.task('t.child', (x: number) => x);
    const parent = app.task('t.parent', async () => {
      await child.applyAsync([1], {}, { queue: 'kids' });
      return 'p';
    });
    await h.worker(app);
    const r = await parent.applyAsync([], {}, { priority: 9, link: signature('t.child', [], {}, { queue: 'kids' }) });
    await h.waitDoc(r.id, 'SUCCESS');
    const plain = await waitFor(async () => {
      const list = await queued('kids');
      return list.length === 2 ? list : undefined;
    });
    for (const m of plain) {
      expect(m.properties.priority).toBe(0);
      expect(m.headers.parent_id).toBe(r.id);
    }
    expect(await h.broker.llen(priorityQueueName('kids', 9))).toBe(0);
  }, 30_000);
});
