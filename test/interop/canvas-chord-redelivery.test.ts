// A chord header part whose worker died after the part was counted and before its ack comes back
// (kombu's restore: the same message with `redelivered`). The count is idempotent per part: the
// rerun replaces its first entry (same group_index), even with a different result, so the body
// is neither sent early nor twice; a redelivered part whose result is already stored is acked
// without running (the worker's duplicate check); a redelivered last part after the body was sent
// finds the counters gone and sends nothing.
import { chord, signature } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type CanvasFleet, startCanvasFleet } from './canvas-support.js';

interface Envelope {
  headers: Record<string, unknown>;
  properties: { delivery_info?: Record<string, unknown> } & Record<string, unknown>;
}

/** The same message as kombu restores it after its worker died: `redelivered` set. */
function redelivered(raw: string): string {
  const e = JSON.parse(raw) as Envelope;
  e.headers.redelivered = true;
  e.properties.delivery_info = { ...(e.properties.delivery_info ?? {}), redelivered: true };
  return JSON.stringify(e);
}

describe('a redelivered chord part counts once', { timeout: 180_000 }, () => {
  let fleet: CanvasFleet;

  beforeAll(async () => {
    fleet = await startCanvasFleet();
  });

  afterAll(async () => {
    await fleet?.stop();
  });

  it('rerun after a lost ack: replaced, not counted twice; a stored one is skipped; after the body, nothing is sent again', async () => {
    const { app, brokerDb, backendDb } = fleet;
    // The header waits on `held` (no worker), so the test hands each part to the celeriac worker itself.
    const part = () => signature('tasks.stamp', [], {}, { queue: 'held' });
    const body = await chord([part(), part()], signature('tasks.echo', [], {}, { queue: 'ts' }), { app }).applyAsync();
    const raws = await pollUntil(
      async () => {
        const list = await brokerDb.lrange('held', 0, -1);
        return list.length === 2 ? list : undefined;
      },
      { what: 'the two header messages on held' },
    );
    const byIndex = new Map(raws.map((r) => [(JSON.parse(r) as Envelope).headers.group_index as number, r]));
    const [p0, p1] = [byIndex.get(0) as string, byIndex.get(1) as string];
    const id0 = (JSON.parse(p0) as Envelope).headers.id as string;
    const id1 = (JSON.parse(p1) as Envelope).headers.id as string;
    const gid = (JSON.parse(p0) as Envelope).headers.group as string;
    await brokerDb.del('held');
    const stored = async (id: string) => {
      const raw = await backendDb.get(`celery-task-meta-${id}`);
      return raw === null ? undefined : (JSON.parse(raw) as { status: string; result: number; date_done: string });
    };
    const bodiesSent = () =>
      fleet.ts
        .output()
        .split('\n')
        .filter((l) => l.includes('"worker.chord_body_sent"') && l.includes(gid)).length;
    // The part is counted after its result is stored (Celery's order), so a stored result alone
    // does not mean the count is done: wait for the worker's `worker.chord_part` line of that run.
    const partsCounted = (id: string) =>
      fleet.ts
        .output()
        .split('\n')
        .filter((l) => l.includes('"worker.chord_part"') && l.includes(id)).length;
    const countedTimes = (id: string, n: number, what: string) =>
      pollUntil(() => (partsCounted(id) >= n ? true : undefined), { what, detail: fleet.tails });

    // Part 0 runs and is counted.
    await brokerDb.lpush('ts', p0);
    const first = await pollUntil(() => stored(id0), { what: 'part 0 result', detail: fleet.tails });
    await countedTimes(id0, 1, 'part 0 counted');
    expect(await backendDb.zcard(`celery-taskset-meta-${gid}.j`)).toBe(1);

    // Its worker "died" before storing the result and acking: the message comes back redelivered and
    // runs again with another result. Counted twice it would complete the chord (2 of 2) without part 1.
    await backendDb.del(`celery-task-meta-${id0}`);
    await brokerDb.lpush('ts', redelivered(p0));
    const second = await pollUntil(() => stored(id0), { what: 'part 0 rerun result', detail: fleet.tails });
    expect(second.result).not.toBe(first.result);
    await countedTimes(id0, 2, 'part 0 rerun counted');
    expect(await backendDb.zcard(`celery-taskset-meta-${gid}.j`)).toBe(1);
    expect(bodiesSent()).toBe(0);

    // Redelivered again with its result stored: the duplicate check acks it without running.
    await brokerDb.lpush('ts', redelivered(p0));
    await pollUntil(
      () =>
        fleet.ts.output().includes('"worker.duplicate_skipped"') && fleet.ts.output().includes(id0) ? true : undefined,
      { what: 'the duplicate part skipped', detail: fleet.tails },
    );
    expect((await stored(id0))?.date_done).toBe(second.date_done);
    expect(await backendDb.zcard(`celery-taskset-meta-${gid}.j`)).toBe(1);

    // Part 1 completes the chord: the body gets the rerun's value and part 1's, once.
    await brokerDb.lpush('ts', p1);
    const values = (await body.get({ timeout: 60_000 })) as number[];
    const last = await pollUntil(() => stored(id1), { what: 'part 1 result' });
    expect(values).toEqual([second.result, last.result]);
    await pollUntil(() => (bodiesSent() === 1 ? true : undefined), { what: 'the body-sent log line' });
    const bodyDone = (await stored(body.id))?.date_done;

    // Part 1's worker "died" after sending the body, before storing and acking: the rerun finds the
    // counters deleted (no .s) and sends no second body.
    await backendDb.del(`celery-task-meta-${id1}`);
    await brokerDb.lpush('ts', redelivered(p1));
    await pollUntil(() => stored(id1), { what: 'part 1 rerun result', detail: fleet.tails });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(bodiesSent()).toBe(1);
    expect((await stored(body.id))?.date_done).toBe(bodyDone);
    expect(await brokerDb.llen('ts')).toBe(0);
  });
});
