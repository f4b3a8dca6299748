/** A `pool_grow` / `pool_shrink` that cannot be done; its name is what Celery's reply shows. */
export class PoolResizeError extends Error {
  override readonly name = 'ValueError';
}

/**
 * The worker's slots: how many tasks run at once (`concurrency`, the pool's size) and the prefetch
 * limit that follows it (× `worker_prefetch_multiplier`, as Celery's consumer updates its prefetch
 * count when the pool grows or shrinks; a multiplier of 0 is Celery's "no limit": Infinity here). `pool_grow` and `pool_shrink` change it at run time; the
 * dispatcher and the fetch loop read it at every turn, so a change holds at once. A shrink lets the
 * running tasks finish: no new one starts until fewer than the new size run.
 */
export class PoolSize {
  private slots: number;
  private readonly multiplier: number;

  /** @param onResize called with the new prefetch limit after each change (the broker's qos). */
  constructor(
    concurrency: number,
    multiplier: number,
    private readonly onResize: (prefetchLimit: number) => void = () => undefined,
  ) {
    this.slots = concurrency;
    this.multiplier = Math.max(0, Math.floor(multiplier));
  }

  /** Tasks that may run at once. */
  get concurrency(): number {
    return this.slots;
  }

  /** Messages the worker may hold that have not started: concurrency × prefetch multiplier (Infinity for multiplier 0). */
  get prefetchLimit(): number {
    return this.multiplier === 0 ? Number.POSITIVE_INFINITY : this.slots * this.multiplier;
  }

  /** `pool_grow n`: n more slots. */
  grow(n: number): void {
    this.resize(this.slots + count(n, 'grow'));
  }

  /** `pool_shrink n`: n fewer slots, never below one. */
  shrink(n: number): void {
    const by = count(n, 'shrink');
    if (this.slots - by < 1) {
      throw new PoolResizeError(`Can't shrink pool by ${by}: it has ${this.slots} slot(s) and keeps at least 1`);
    }
    this.resize(this.slots - by);
  }

  private resize(slots: number): void {
    if (slots === this.slots) return;
    this.slots = slots;
    this.onResize(this.prefetchLimit);
  }
}

function count(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new PoolResizeError(`pool_${what} takes a whole number of slots ≥ 0, got ${String(n)}`);
  }
  return n;
}
