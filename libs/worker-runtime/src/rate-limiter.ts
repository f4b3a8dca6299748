import { TokenBucket } from './token-bucket.js';

interface Lane<T> {
  bucket: TokenBucket;
  waiting: T[];
  timer: NodeJS.Timeout | null;
}

/**
 * Per-task-type rate limits, like Celery's: one token bucket per task name in this worker.
 * A task over its limit waits here (in memory, still held) and is released to `onReady` when a
 * token is free; other task types never wait behind it.
 */
export class RateLimiter<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private closed = false;

  constructor(private readonly onReady: (item: T) => void) {}

  /** True when `item` may run now; otherwise it is queued and handed to `onReady` later. */
  admit(name: string, ratePerSec: number, item: T): boolean {
    let lane = this.lanes.get(name);
    if (lane === undefined || lane.bucket.ratePerSec !== ratePerSec) {
      lane = { bucket: new TokenBucket(ratePerSec), waiting: lane?.waiting ?? [], timer: lane?.timer ?? null };
      this.lanes.set(name, lane);
    }
    if (lane.waiting.length === 0 && lane.bucket.tryTake()) return true;
    lane.waiting.push(item);
    this.arm(lane);
    return false;
  }

  /** Number of items waiting for a token. */
  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.waiting.length;
    return n;
  }

  private arm(lane: Lane<T>): void {
    if (lane.timer !== null || this.closed) return;
    const delayMs = Math.max(1, Math.ceil(lane.bucket.msUntilToken()));
    lane.timer = setTimeout(() => {
      lane.timer = null;
      this.release(lane);
    }, delayMs);
  }

  private release(lane: Lane<T>): void {
    while (lane.waiting.length > 0 && lane.bucket.tryTake()) {
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
