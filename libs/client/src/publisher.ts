/** One queue entry to push: the raw envelope, its queue and priority. */
export interface PublishItem {
  queue: string;
  raw: string;
  priority?: number;
}

/** The slice of the broker the publisher uses. */
export interface PublishTarget {
  publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void>;
}

interface Batch {
  items: PublishItem[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Large bursts are cut into chunks so that no single command carries hundreds of megabytes.
const MAX_ITEMS_PER_CALL = 5_000;

/**
 * Coalesces every publish made in the same tick into one `publishMany` call (one multi-value LPUSH
 * per list on the broker side), keeping the order in which they were made.
 */
export class CoalescingPublisher {
  private batch: Batch | null = null;
  private readonly target: () => Promise<PublishTarget>;
  private inFlight = new Set<Promise<void>>();

  constructor(target: () => Promise<PublishTarget>) {
    this.target = target;
  }

  /** Queues one item for this tick's batch; resolves once it is in Redis. */
  add(item: PublishItem): Promise<void> {
    const batch = this.current();
    batch.items.push(item);
    return batch.promise;
  }

  /** Queues many items for this tick's batch, in order. */
  addMany(items: readonly PublishItem[]): Promise<void> {
    const batch = this.current();
    for (const item of items) batch.items.push(item);
    return batch.promise;
  }

  /** Resolves when everything queued so far has been written (or failed). */
  async drain(): Promise<void> {
    if (this.batch) await this.batch.promise.catch(() => {});
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private current(): Batch {
    if (this.batch) return this.batch;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers may drop the promise of a publish; its failure is still reported to whoever awaits it.
    promise.catch(() => {});
    const batch: Batch = { items: [], promise, resolve, reject };
    this.batch = batch;
    queueMicrotask(() => this.flush(batch));
    return batch;
  }

  private flush(batch: Batch): void {
    if (this.batch === batch) this.batch = null;
    const done = this.send(batch.items).then(batch.resolve, batch.reject);
    this.inFlight.add(done);
    done.finally(() => this.inFlight.delete(done));
  }

  private async send(items: PublishItem[]): Promise<void> {
    const target = await this.target();
    if (items.length <= MAX_ITEMS_PER_CALL) {
      await target.publishMany(items);
      return;
    }
    const calls: Promise<void>[] = [];
    for (let i = 0; i < items.length; i += MAX_ITEMS_PER_CALL) {
      calls.push(target.publishMany(items.slice(i, i + MAX_ITEMS_PER_CALL)));
    }
    await Promise.all(calls);
  }
}
