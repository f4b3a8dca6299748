/** Longest delay a Node timer takes (about 24.8 days); longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

interface Entry<T> {
  dueMs: number;
  item: T;
}

/**
 * Holds items until their time (eta/countdown) with one timer for the earliest, in a binary heap,
 * so thousands of waiting tasks cost one timer, not one each.
 */
export class EtaScheduler<T> {
  private heap: Entry<T>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerDueMs = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(private readonly onDue: (item: T) => void) {}

  get size(): number {
    return this.heap.length;
  }

  /** Hands `item` to `onDue` at `dueMs` (epoch ms). */
  schedule(dueMs: number, item: T): void {
    if (this.closed) return;
    this.push({ dueMs, item });
    if (dueMs < this.timerDueMs) this.arm();
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueMs = Number.POSITIVE_INFINITY;
    const first = this.heap[0];
    if (first === undefined || this.closed) return;
    this.timerDueMs = first.dueMs;
    const delayMs = Math.min(MAX_TIMER_MS, Math.max(0, first.dueMs - Date.now()));
    this.timer = setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.timer = null;
    this.timerDueMs = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap.length > 0 && (this.heap[0] as Entry<T>).dueMs <= now) {
      this.onDue((this.pop() as Entry<T>).item);
    }
    this.arm();
  }

  /** The waiting items with their due times (epoch ms), soonest first. */
  entries(): Array<{ dueMs: number; item: T }> {
    return this.heap.map((e) => ({ dueMs: e.dueMs, item: e.item })).sort((a, b) => a.dueMs - b.dueMs);
  }

  /** Takes out the items `match` selects (revoked ones) and returns them; the rest keep their times. */
  remove(match: (item: T) => boolean): T[] {
    const out: Entry<T>[] = [];
    const keep: Entry<T>[] = [];
    for (const entry of this.heap) (match(entry.item) ? out : keep).push(entry);
    if (out.length === 0) return [];
    this.heap = [];
    for (const entry of keep) this.push(entry);
    this.arm();
    return out.map((e) => e.item);
  }

  /** Takes every waiting item out (for shutdown) and stops the timer. */
  drain(): T[] {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueMs = Number.POSITIVE_INFINITY;
    const items = this.heap.map((e) => e.item);
    this.heap = [];
    return items;
  }

  /** Stops the timer; idempotent. */
  close(): void {
    this.drain();
    this.closed = true;
  }

  private push(entry: Entry<T>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry<T>).dueMs <= entry.dueMs) break;
      heap[i] = heap[parent] as Entry<T>;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Entry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (heap[right] as Entry<T>).dueMs < (heap[left] as Entry<T>).dueMs ? right : left;
      if ((heap[child] as Entry<T>).dueMs >= last.dueMs) break;
      heap[i] = heap[child] as Entry<T>;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
