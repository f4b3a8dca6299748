// Issue 8, "0 run to completion twice": a redelivered message whose task has a final result stored
// (its worker died after storing it and before its ack landed) is acked without running. The state
// is built with the real broker: an owner takes the message, its result is stored, the owner
// "dies" (never acks) and restoreOwner puts the message back as kombu does (redelivered).
import { RedisBroker } from '@celeriac/broker';
import { encodeTaskEnvelope, markRedelivered } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateCheck } from '../src/duplicate-check.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

/** A result document as Celery stores it. */
function doc(id: string, status: string, result: unknown = 3): string {
  return JSON.stringify({
    status,
    result,
    traceback: null,
    children: [],
    date_done: '2026-12-02T00:00:00.000000',
    task_id: id,
  });
}

/** Takes each raw from the queue as owner `dead`, stores its status (unless null), restores the owner. */
async function completedThenKilled(items: { raw: string; id: string; status: string | null }[]): Promise<void> {
  const dead = new RedisBroker({ url: h.redis.url(0), logger: new LogCapture().logger, ownerId: 'dead@host:1' });
  await dead.start();
  for (const { raw } of items) await h.broker.lpush('celery', raw);
  const taken = await dead.fetchBatch(['celery'], 10);
  expect(taken.length).toBe(items.length);
  for (const { id, status } of items) {
    if (status !== null) await h.results.set(`celery-task-meta-${id}`, doc(id, status));
  }
  // The owner dies here: no ack. The agent restores what it held.
  expect(await dead.restoreOwner('dead@host:1')).toBe(items.length);
  await dead.close();
}

describe('redelivered messages of completed tasks', () => {
  for (const status of ['SUCCESS', 'FAILURE', 'REVOKED']) {
    it(`${status} stored before the owner died: acked without running, the result untouched`, async () => {
      const app = h.app({ task_acks_late: true });
      let runs = 0;
      app.task('t.add', (a: number, b: number) => {
        runs++;
        return a + b;
      });
      const id = `done-${status}`;
      const raw = encodeTaskEnvelope({ id, task: 't.add', args: [1, 2], kwargs: {}, queue: 'celery' });
      await completedThenKilled([{ raw, id, status }]);
      const redelivered = await h.broker.lindex('celery', 0);
      expect(JSON.parse(redelivered as string).headers.redelivered).toBe(true);
      const log = new LogCapture();
      const worker = await h.worker(app, {}, log);
      const skipped = await waitFor(() => log.events('worker.duplicate_skipped')[0]);
      expect(skipped).toMatchObject({ task_id: id, task: 't.add', state: status });
      await waitFor(async () => ((await h.broker.hlen('unacked')) === 0 ? true : undefined));
      expect(runs).toBe(0);
      expect(await h.broker.llen('celery')).toBe(0);
      expect(await h.results.get(`celery-task-meta-${id}`)).toBe(doc(id, status));
      expect(worker.stats()).toMatchObject({ held: 0, running: 0 });
    });
  }

  it('no result, or a non-final one (STARTED, RETRY), stored: the redelivered message runs, once', async () => {
    const app = h.app({ task_acks_late: true });
    const runs = new Map<string, number>();
    app.task(
      't.add',
      (ctx: { id: string }, a: number, b: number) => {
        runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
        return a + b;
      },
      { bind: true },
    );
    const cases: [string, string | null][] = [
      ['none', null],
      ['started', 'STARTED'],
      ['retry', 'RETRY'],
    ];
    await completedThenKilled(
      cases.map(([id, status]) => ({
        id,
        status,
        raw: encodeTaskEnvelope({ id, task: 't.add', args: [1, 2], kwargs: {}, queue: 'celery' }),
      })),
    );
    const log = new LogCapture();
    await h.worker(app, {}, log);
    for (const [id] of cases) expect((await h.waitDoc(id, 'SUCCESS')).result).toBe(3);
    expect(Object.fromEntries(runs)).toEqual({ none: 1, started: 1, retry: 1 });
    expect(log.events('worker.duplicate_skipped')).toEqual([]);
  });

  it('a first delivery is never checked: a task id with SUCCESS stored runs again when sent anew', async () => {
    const app = h.app();
    let runs = 0;
    const t = app.task('t.again', () => ++runs);
    await h.results.set('celery-task-meta-same-id', doc('same-id', 'SUCCESS', 0));
    const log = new LogCapture();
    await h.worker(app, {}, log);
    await t.applyAsync([], {}, { task_id: 'same-id' });
    await waitFor(async () => ((await h.doc('same-id'))?.result === 1 ? true : undefined));
    expect(runs).toBe(1);
    expect(log.events('worker.duplicate_skipped')).toEqual([]);
  });

  it('a redelivered, expired message of a completed task keeps its SUCCESS (no REVOKED over it)', async () => {
    const app = h.app();
    let runs = 0;
    app.task('t.expiring', () => ++runs);
    const raw = encodeTaskEnvelope({
      id: 'expired-done',
      task: 't.expiring',
      args: [],
      kwargs: {},
      queue: 'celery',
      expires: new Date(Date.now() - 1000),
    });
    await h.results.set('celery-task-meta-expired-done', doc('expired-done', 'SUCCESS'));
    await h.broker.lpush('celery', markRedelivered(raw));
    const log = new LogCapture();
    await h.worker(app, {}, log);
    await waitFor(() => log.events('worker.duplicate_skipped')[0]);
    expect(runs).toBe(0);
    expect(JSON.parse((await h.results.get('celery-task-meta-expired-done')) as string).status).toBe('SUCCESS');
  });
});

describe('DuplicateCheck', () => {
  it('sends queued results before it reads, reads a turn in one call, maps only final states', async () => {
    const order: string[] = [];
    const check = new DuplicateCheck(
      {
        storedStates: async (ids) => {
          order.push(`read ${ids.join(',')}`);
          return ids.map((id) => ({ a: 'SUCCESS', b: 'STARTED', c: null, d: 'REVOKED' })[id] ?? null);
        },
      },
      { sendQueued: () => order.push('send') },
      new LogCapture().logger,
    );
    const seen = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id) => new Promise<string | null>((resolve) => check.check(id, resolve))),
    );
    expect(order).toEqual(['send', 'read a,b,c,d']);
    expect(seen).toEqual(['SUCCESS', null, null, 'REVOKED']);
  });

  it('a failed read lets the messages run, logged', async () => {
    const log = new LogCapture();
    const check = new DuplicateCheck(
      {
        storedStates: async () => {
          throw new Error('backend down');
        },
      },
      { sendQueued: () => undefined },
      log.logger,
    );
    expect(await new Promise((resolve) => check.check('x', resolve))).toBeNull();
    expect(log.events('worker.duplicate_check_failed')[0]).toMatchObject({ count: 1 });
  });
});
