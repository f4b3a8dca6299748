// Issue 9, idle CPU: the delayed-set upkeep sleeps until the earliest delayed entry is due (read in
// the same round trip as the promote), at most UPKEEP_IDLE_MS, instead of two script calls every
// 250 ms; a worker's own deferral wakes it for its entry; due entries are still promoted within
// the poll interval of their due time. Real redis-server and RedisBroker.
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisBroker } from '@celeriac/broker';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryUpkeep, UPKEEP_IDLE_MS, type UpkeepBroker } from '../src/delivery-upkeep.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
let broker: RedisBroker;
beforeAll(async () => {
  await h.start();
  broker = new RedisBroker({ url: h.redis.url(0), logger: new LogCapture().logger, ownerId: 'upkeep@host:1' });
  await broker.start();
});
afterEach(() => h.reset());
afterAll(async () => {
  await broker?.close();
  await h.stop();
});

/** The broker's upkeep calls, counted, with the time of each promote. */
function counted(): { target: UpkeepBroker; promotes: number[]; limitedCalls: () => number } {
  const promotes: number[] = [];
  let limited = 0;
  const target: UpkeepBroker = {
    promoteDue: (limit) => {
      promotes.push(Date.now());
      return broker.promoteDue(limit);
    },
    takeRedeliveryLimited: (max) => {
      limited++;
      return broker.takeRedeliveryLimited(max);
    },
    deadLetter: (d, reason, details) => broker.deadLetter(d, reason, details),
  };
  return { target, promotes, limitedCalls: () => limited };
}

/** Puts a message for `queue` in the delayed set, due at `dueMs`, as another worker's deferral would. */
async function delayed(id: string, dueMs: number): Promise<void> {
  const raw = encodeTaskEnvelope({ id, task: 't.x', args: [], kwargs: {}, queue: 'q' });
  await h.broker.zadd('celeriac.delayed', String(dueMs), `q\x06\x16${id}\x06\x16${raw}`);
}

describe('delayed-set upkeep timing', () => {
  it('idle, it makes one call per idle interval and skips the empty redelivery-limit list', async () => {
    const { target, promotes, limitedCalls } = counted();
    const upkeep = new DeliveryUpkeep(target, { add: () => undefined }, 250, 5, new LogCapture().logger);
    upkeep.start();
    await sleep(UPKEEP_IDLE_MS * 2 + 500);
    await upkeep.stop();
    console.log(
      `upkeep idle ${UPKEEP_IDLE_MS * 2 + 500} ms: ${promotes.length} promote calls, ${limitedCalls()} limited calls`,
    );
    // Before: a promote and a take-limited call every 250 ms (18 + 18 here).
    expect(promotes.length).toBeGreaterThanOrEqual(2);
    expect(promotes.length).toBeLessThanOrEqual(4);
    expect(limitedCalls()).toBe(0);
  });

  it('an entry present at the last round is promoted at its due time, not at the idle interval', async () => {
    const { target, promotes } = counted();
    const upkeep = new DeliveryUpkeep(target, { add: () => undefined }, 250, 5, new LogCapture().logger);
    const dueMs = Date.now() + 700;
    await delayed('present', dueMs);
    upkeep.start();
    await waitFor(async () => ((await h.broker.llen('q')) === 1 ? true : undefined), 5_000);
    const lateMs = Date.now() - dueMs;
    await upkeep.stop();
    console.log(`upkeep: entry due in 700 ms promoted ${lateMs} ms after its due time (${promotes.length} calls)`);
    expect(lateMs).toBeLessThan(UPKEEP_IDLE_MS - 700);
    expect(promotes.length).toBeLessThanOrEqual(4);
  });

  it("this worker's own deferral wakes it for the entry (dueAt), and another worker's is taken within the idle interval", async () => {
    const { target } = counted();
    const upkeep = new DeliveryUpkeep(target, { add: () => undefined }, 250, 5, new LogCapture().logger);
    upkeep.start();
    await sleep(400);
    const ownDue = Date.now() + 300;
    await delayed('own', ownDue);
    upkeep.dueAt(ownDue);
    await waitFor(async () => ((await h.broker.llen('q')) === 1 ? true : undefined), 5_000);
    const ownLateMs = Date.now() - ownDue;
    const otherDue = Date.now() + 100;
    await delayed('other', otherDue);
    await waitFor(async () => ((await h.broker.llen('q')) === 2 ? true : undefined), 5_000);
    const otherLateMs = Date.now() - otherDue;
    await upkeep.stop();
    console.log(`upkeep: own deferral promoted ${ownLateMs} ms late, another worker's ${otherLateMs} ms late`);
    expect(ownLateMs).toBeLessThan(1_000);
    expect(otherLateMs).toBeLessThan(UPKEEP_IDLE_MS + 1_000);
  });

  it('a message on the redelivery-limit list is taken by the next round', async () => {
    const { target, limitedCalls } = counted();
    const docs: unknown[] = [];
    const upkeep = new DeliveryUpkeep(target, { add: (doc) => docs.push(doc) }, 250, 5, new LogCapture().logger);
    upkeep.start();
    await sleep(300);
    const raw = encodeTaskEnvelope({ id: 'poison', task: 't.x', args: [], kwargs: {}, queue: 'q' });
    await h.broker.rpush('celeriac.redelivery-limit', `q\x06\x165\x06\x16${raw}`);
    await waitFor(async () => ((await h.broker.llen('celeriac.dead-letter')) === 1 ? true : undefined), 5_000);
    await upkeep.stop();
    expect(limitedCalls()).toBe(1);
    expect(docs).toMatchObject([{ task_id: 'poison', status: 'FAILURE' }]);
  });
});
