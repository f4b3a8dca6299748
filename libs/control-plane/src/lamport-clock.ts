/**
 * kombu's LamportClock: one per worker, shared by the pidbox (request/reply `clock` headers, mingle)
 * and the event dispatcher (every event's `clock` field), as Celery shares `app.clock`.
 */
export class LamportClock {
  private current: number;

  constructor(initial = 0) {
    this.current = initial;
  }

  get value(): number {
    return this.current;
  }

  /** Advances the clock for a local event and returns the new value. */
  forward(): number {
    this.current += 1;
    return this.current;
  }

  /** Merges a clock value seen on a received message: max(ours, theirs) + 1. */
  adjust(other: unknown): number {
    const theirs = typeof other === 'number' ? other : typeof other === 'string' ? Number(other) : 0;
    this.current = Math.max(this.current, Number.isFinite(theirs) ? Math.trunc(theirs) : 0) + 1;
    return this.current;
  }
}
