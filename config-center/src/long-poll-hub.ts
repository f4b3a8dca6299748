import { type SpreadTask, TurnSpreader } from './turn-spreader.js';

/** How a held long-poll ended. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed' | 'aborted';

/** Whoever holds a long-poll: told exactly once how it ended. */
export interface LongPollWaiter {
  settle(outcome: WaitOutcome): void;
}

/** What ends a promise-style `wait()` early (the client went away), in the shape of an AbortSignal's use here. */
export interface WaitCancel {
  readonly aborted: boolean;
  /** Registers the one callback to run on cancellation; returns what unregisters it. */
  onCancel(callback: () => void): () => void;
}

/** Timeouts are kept in slots this wide: a wait ends at its deadline or up to this much later. */
const SLOT_MS = 25;
/**
 * Answers written per event-loop turn during a fan-out. A turn writes its batch, then finishes it
 * (the responses' bookkeeping), before any socket is read again: each turn between batches also
 * closes the connections answered so far, and those closes would all come before the last answer.
 * 5,000 answers are a turn of about 100 ms (bench/center.md).
 */
const ANSWERS_PER_TURN = 5000;

/** How a hub paces its answers. */
export interface LongPollHubOptions {
  /** Answers written per event-loop turn during a fan-out (default 5,000). */
  answersPerTurn?: number;
}

/** One held long-poll: the handle `hold()` returns and `release()` takes. */
export class LongPollHold {
  constructor(
    readonly node: string,
    readonly waiter: LongPollWaiter,
    /** Deadline slot (epoch ms / SLOT_MS, rounded up). */
    readonly slot: number,
  ) {}
}

/**
 * Holds long-polls per node: a Map from node to its holds, and a timer wheel (holds grouped in
 * deadline slots, one timer for the earliest slot) instead of a timer per poll, so ten thousand
 * held polls cost one small object each. `wake(node)` answers only that node's holds. It also
 * paces the answers: waiters decide what to answer when settled and hand the writing to
 * `deliver()`, which writes a batch per event-loop turn, and `answered()` tells when all are out.
 */
export class LongPollHub {
  private readonly answers: TurnSpreader;
  private readonly byNode = new Map<string, Set<LongPollHold>>();
  private readonly bySlot = new Map<number, Set<LongPollHold>>();
  private timer: NodeJS.Timeout | undefined;
  private timerSlot = Number.POSITIVE_INFINITY;
  private heldCount = 0;
  private closed = false;

  constructor(options: LongPollHubOptions = {}) {
    this.answers = new TurnSpreader(options.answersPerTurn ?? ANSWERS_PER_TURN);
  }

  /** Number of long-polls held right now. */
  get held(): number {
    return this.heldCount;
  }

  /**
   * Holds a long-poll for `node` until `wake(node)` ('changed'), `timeoutMs` ('timeout'),
   * `close()` ('closed') or `release()` ('aborted'); the waiter is settled exactly once. When the
   * hub is closed it is settled 'closed' at once and nothing is held (returns undefined).
   */
  hold(node: string, timeoutMs: number, waiter: LongPollWaiter): LongPollHold | undefined {
    if (this.closed) {
      waiter.settle('closed');
      return undefined;
    }
    const hold = new LongPollHold(node, waiter, Math.ceil((Date.now() + timeoutMs) / SLOT_MS));
    addTo(this.byNode, node, hold);
    addTo(this.bySlot, hold.slot, hold);
    this.heldCount++;
    if (hold.slot < this.timerSlot) this.arm(hold.slot);
    return hold;
  }

  /** Ends a hold early (its client went away): settles it 'aborted' unless it already ended. */
  release(hold: LongPollHold): void {
    this.end(hold, 'aborted');
  }

  /**
   * Waits until `wake(node)`, the timeout, `close()`, or `signal` aborts (client went away).
   * Never rejects. (`hold()` without a promise is what the long-poll route uses.)
   */
  wait(node: string, timeoutMs: number, signal?: WaitCancel): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WaitOutcome>((resolve) => {
      let stopListening: (() => void) | undefined;
      const hold = this.hold(node, timeoutMs, {
        settle: (outcome) => {
          stopListening?.();
          resolve(outcome);
        },
      });
      if (hold) stopListening = signal?.onCancel(() => this.release(hold));
    });
  }

  /**
   * Writes a settled long-poll's answer in one of the next turns, a batch per turn, so that a
   * fan-out to thousands leaves the event loop to other I/O in between (at once once closed).
   */
  deliver(answer: SpreadTask): void {
    this.answers.push(answer);
    if (this.closed) this.answers.flush();
  }

  /**
   * Resolves once every answer delivered so far was written. A write waits for it before it
   * answers, so an agent that re-polls at once is held again before the next write commits.
   */
  answered(): Promise<void> {
    return this.answers.idle();
  }

  /** Nodes with at least one held long-poll. */
  waitingNodes(): string[] {
    return [...this.byNode.keys()];
  }

  /** Answers every long-poll held for `node`; returns how many were woken. */
  wake(node: string): number {
    const holds = this.byNode.get(node);
    if (!holds) return 0;
    const woken = [...holds];
    for (const hold of woken) this.end(hold, 'changed');
    return woken.length;
  }

  /** Ends every held long-poll with `closed` and refuses new ones. Idempotent. */
  close(): void {
    this.closed = true;
    for (const holds of [...this.byNode.values()]) for (const hold of [...holds]) this.end(hold, 'closed');
    this.disarm();
    // Written before the server closes the connections that are idle.
    this.answers.flush();
  }

  private end(hold: LongPollHold, outcome: WaitOutcome): void {
    const holds = this.byNode.get(hold.node);
    if (!holds?.delete(hold)) return;
    if (holds.size === 0) this.byNode.delete(hold.node);
    const slot = this.bySlot.get(hold.slot);
    slot?.delete(hold);
    if (slot?.size === 0) this.bySlot.delete(hold.slot);
    this.heldCount--;
    hold.waiter.settle(outcome);
  }

  private arm(slot: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerSlot = slot;
    this.timer = setTimeout(() => this.expire(), Math.max(0, slot * SLOT_MS - Date.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerSlot = Number.POSITIVE_INFINITY;
  }

  /** Times out every slot whose deadline has passed, then arms the timer for the earliest left. */
  private expire(): void {
    this.disarm();
    const due = Math.floor(Date.now() / SLOT_MS);
    let next = Number.POSITIVE_INFINITY;
    // Deleting the visited entry while iterating a Map is safe; holds added meanwhile are visited too.
    for (const [slot, holds] of this.bySlot) {
      if (slot <= due) for (const hold of [...holds]) this.end(hold, 'timeout');
      else if (slot < next) next = slot;
    }
    if (next < this.timerSlot) this.arm(next);
  }
}

function addTo<K>(index: Map<K, Set<LongPollHold>>, key: K, hold: LongPollHold): void {
  let holds = index.get(key);
  if (!holds) {
    holds = new Set();
    index.set(key, holds);
  }
  holds.add(hold);
}
