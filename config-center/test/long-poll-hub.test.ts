import { describe, expect, it } from 'vitest';
import { LongPollHub, type WaitOutcome } from '../src/long-poll-hub.js';
import { until } from './support/center-harness.js';

/** A waiter that records how (and when) it was settled. */
function recorder() {
  const settled: { outcome: WaitOutcome; at: number }[] = [];
  return { settled, waiter: { settle: (outcome: WaitOutcome) => settled.push({ outcome, at: Date.now() }) } };
}

describe('LongPollHub', () => {
  it('times out each hold at its own deadline from one timer wheel, not before it', async () => {
    const hub = new LongPollHub();
    const started = Date.now();
    const waits = [300, 100, 200, 100];
    const records = waits.map((ms) => {
      const r = recorder();
      hub.hold('n', ms, r.waiter);
      return r;
    });
    expect(hub.held).toBe(4);
    await until(() => records.every((r) => r.settled.length > 0), 10_000, 'every hold to time out');
    records.forEach((r, i) => {
      expect(r.settled).toHaveLength(1);
      expect(r.settled[0]?.outcome).toBe('timeout');
      // Never early; late only by a slot and the load of a shared machine.
      expect((r.settled[0]?.at ?? 0) - started).toBeGreaterThanOrEqual((waits[i] as number) - 1);
    });
    expect(hub.held).toBe(0);
    hub.close();
  });

  it('wakes only the node woken, releases once, and closes the rest', () => {
    const hub = new LongPollHub();
    const a1 = recorder();
    const a2 = recorder();
    const b = recorder();
    const c = recorder();
    hub.hold('a', 60_000, a1.waiter);
    hub.hold('a', 60_000, a2.waiter);
    hub.hold('b', 60_000, b.waiter);
    const cHold = hub.hold('c', 60_000, c.waiter);
    expect(hub.waitingNodes().sort()).toEqual(['a', 'b', 'c']);

    expect(hub.wake('a')).toBe(2);
    expect(hub.wake('a')).toBe(0);
    expect(a1.settled.map((s) => s.outcome)).toEqual(['changed']);
    expect(a2.settled.map((s) => s.outcome)).toEqual(['changed']);
    expect(b.settled).toEqual([]);

    if (!cHold) throw new Error('c was not held');
    hub.release(cHold);
    hub.release(cHold);
    expect(c.settled.map((s) => s.outcome)).toEqual(['aborted']);

    hub.close();
    expect(b.settled.map((s) => s.outcome)).toEqual(['closed']);
    expect(hub.held).toBe(0);
    const late = recorder();
    expect(hub.hold('a', 1000, late.waiter)).toBeUndefined();
    expect(late.settled.map((s) => s.outcome)).toEqual(['closed']);
  });

  it('writes delivered answers a batch per turn and tells when all are written', async () => {
    const hub = new LongPollHub({ answersPerTurn: 200 });
    const ran: number[] = [];
    for (let i = 0; i < 1000; i++) hub.deliver({ run: () => ran.push(i), fail: () => undefined });
    expect(ran).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    // One turn wrote one batch; the rest wait for the next turns.
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThan(1000);
    await hub.answered();
    expect(ran).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    await hub.answered();

    const failed: unknown[] = [];
    hub.deliver({
      run: () => {
        throw new Error('socket gone');
      },
      fail: (error) => failed.push(error),
    });
    hub.deliver({ run: () => ran.push(-1), fail: () => undefined });
    await hub.answered();
    expect(failed).toHaveLength(1);
    expect(ran.at(-1)).toBe(-1);
    hub.close();
  });

  it("completes a batch's answers after all of them were written, in the same turn", async () => {
    const hub = new LongPollHub({ answersPerTurn: 3 });
    const steps: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      hub.deliver({
        run: () => {
          steps.push(`run ${name}`);
          if (name === 'b') throw new Error('socket gone');
        },
        complete: () => steps.push(`complete ${name}`),
        fail: () => steps.push(`fail ${name}`),
      });
    }
    setImmediate(() => steps.push('next turn'));
    await hub.answered();
    // b failed in run: it is not completed; d is the next turn's batch.
    expect(steps).toEqual([
      'run a',
      'run b',
      'fail b',
      'run c',
      'complete a',
      'complete c',
      'next turn',
      'run d',
      'complete d',
    ]);
    hub.close();
  });

  it('keeps the promise API for waits, with cancellation', async () => {
    const hub = new LongPollHub();
    const changed = hub.wait('a', 10_000);
    hub.wake('a');
    expect(await changed).toBe('changed');
    const cancel = new AbortController();
    const aborted = hub.wait('a', 10_000, {
      get aborted() {
        return cancel.signal.aborted;
      },
      onCancel: (callback) => {
        cancel.signal.addEventListener('abort', callback);
        return () => cancel.signal.removeEventListener('abort', callback);
      },
    });
    cancel.abort();
    expect(await aborted).toBe('aborted');
    expect(await hub.wait('a', 50)).toBe('timeout');
    expect(hub.held).toBe(0);
    hub.close();
  });
});
