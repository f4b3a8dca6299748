import { TokenBucket } from './token-bucket.js';

interface Lane<T> {
  /** Null: the limit was lifted (`rate_limit` set to none); everything passes. */
  bucket: TokenBucket | null;
  waiting: T[];
  timer: NodeJS.Timeout | null;
}

/**
 * Per-task-type rate limits, like Celery's: one token bucket per task name in this worker.
 * A task over its limit waits here (in memory, still held) and is released to `onReady` when a
 * token is free; other task types never wait behind it. `setRate()` changes a limit at once
 * (the `rate_limit` control command): the waiting items follow the new rate.
 */
export class RateLimiter<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private closed = false;

  constructor(private readonly onReady: (item: T) => void) {}

  /**
   * True when `item` may run now; otherwise it is queued and handed to `onReady` later. The lane's
   * rate is `ratePerSec` when the lane is new; after that only `setRate()` changes it, so an item
   * planned under an older rate follows the current one.
   */
  admit(name: string, ratePerSec: number, item: T): boolean {
    let lane = this.lanes.get(name);
    if (lane === undefined) {
      lane = { bucket: new TokenBucket(ratePerSec), waiting: [], timer: null };
      this.lanes.set(name, lane);
    }
    if (lane.bucket === null) return true;
    if (lane.waiting.length === 0 && lane.bucket.tryTake()) return true;
    lane.waiting.push(item);
    this.arm(lane);
    return false;
  }

  /**
   * Sets the rate of `name` now (null: no limit): a fresh bucket with one token, as Celery's
   * `reset_rate_limits()`; waiting items are released at the new rate (all at once for null).
   */
  setRate(name: string, ratePerSec: number | null): void {
    let lane = this.lanes.get(name);
    if (lane === undefined) {
      lane = { bucket: null, waiting: [], timer: null };
      this.lanes.set(name, lane);
    }
    if (lane.timer !== null) clearTimeout(lane.timer);
    lane.timer = null;
    lane.bucket = ratePerSec === null ? null : new TokenBucket(ratePerSec);
    this.release(lane);
  }

  /** Number of items waiting for a token. */
  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.waiting.length;
    return n;
  }

  /** The waiting items, in release order per name. */
  items(): T[] {
    const out: T[] = [];
    for (const lane of this.lanes.values()) out.push(...lane.waiting);
    return out;
  }

  /** Takes out the waiting items `match` selects (revoked ones) and returns them. */
  remove(match: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.waiting.length === 0) continue;
      const keep: T[] = [];
      for (const item of lane.waiting) (match(item) ? out : keep).push(item);
      lane.waiting = keep;
      if (keep.length === 0 && lane.timer !== null) {
        clearTimeout(lane.timer);
        lane.timer = null;
      }
    }
    return out;
  }

  private arm(lane: Lane<T>): void {
    if (lane.timer !== null || this.closed || lane.bucket === null) return;
    const delayMs = Math.max(1, Math.ceil(lane.bucket.msUntilToken()));
    lane.timer = setTimeout(() => {
      lane.timer = null;
      this.release(lane);
    }, delayMs);
  }

  private release(lane: Lane<T>): void {
    while (lane.waiting.length > 0 && (lane.bucket === null || lane.bucket.tryTake())) {
      this.onReady(lane.waiting.shift() as T);
    }
    if (lane.waiting.length > 0) this.arm(lane);
  }

  /** Takes every waiting item out (for shutdown) and stops all timers. */
  drain(): T[] {
    const out: T[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer !== null) clearTimeout(lane.timer);
      lane.timer = null;
      out.push(...lane.waiting);
      lane.waiting = [];
    }
    return out;
  }

  /** Stops all timers; idempotent. Waiting items are dropped (take them with `drain()` first). */
  close(): void {
    this.drain();
    this.closed = true;
  }
}
