import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';

/** One message to move to the broker's delayed set. */
export interface DeferredMessage {
  delivery: Delivery;
  taskId: string;
  task: string;
  /** Due time, epoch ms. */
  dueMs: number;
}

/**
 * The broker calls the deferral makes (`RedisBroker.defer`, `RedisBroker.reschedule`; on RabbitMQ
 * `AmqpBroker.defer`, into Celery 5.5's native delayed delivery, without `reschedule`).
 */
export interface DeferTarget {
  defer(items: readonly { delivery: Delivery; taskId: string; dueMs: number }[]): Promise<number>;
  /** New due times for entries moved before (those still in the delayed set). */
  reschedule?(items: readonly { delivery: Delivery; taskId: string; dueMs: number }[]): Promise<number>;
}

/** An eta further away than this is called far-future in the log (info instead of debug). */
const FAR_FUTURE_MS = 24 * 3_600_000;
const RETRY_MS = [250, 500, 1_000, 2_000, 5_000];
/** Task ids named in one log line at most. */
const LOGGED_IDS = 10;

/**
 * Moves messages whose eta lies beyond the worker's horizon to the broker's delayed set: everything
 * added in one event-loop turn goes in one atomic call (move + ack). A failed call is retried with
 * backoff; the messages stay held on the broker (unacked) meanwhile. `close()` returns what is still not
 * moved so that shutdown hands it back. Logs `worker.eta_deferred` per call (info when an eta is
 * more than a day away, debug otherwise) and `worker.eta_defer_failed`.
 */
export class EtaDeferral {
  private queued: DeferredMessage[] = [];
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private sending: Promise<void> | null = null;
  private closed = false;
  private deferredCount = 0;
  private deferredListener: ((earliestDueMs: number) => void) | null = null;

  constructor(
    private readonly target: DeferTarget,
    private readonly horizonMs: number,
    private readonly logger: Logger,
  ) {}

  /** Messages moved to the delayed set so far. */
  get deferred(): number {
    return this.deferredCount;
  }

  /**
   * Called after each move with the earliest due time moved (epoch ms): the worker's
   * `DeliveryUpkeep.dueAt`, so that the poll wakes for it rather than at its idle interval.
   */
  onDeferred(listener: (earliestDueMs: number) => void): void {
    this.deferredListener = listener;
  }

  /** Messages waiting to be moved. */
  get pending(): number {
    return this.queued.length;
  }

  add(message: DeferredMessage): void {
    this.queued.push(message);
    if (this.scheduled || this.retryTimer !== null || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Whether the broker can give moved messages new due times (Redis's delayed set can; RabbitMQ's delay levels cannot). */
  get reschedulable(): boolean {
    return typeof this.target.reschedule === 'function';
  }

  /**
   * Gives messages moved before new due times (a fleet limit changed, so they were spaced for the
   * old rate). Waits for moves still on their way first, so the entries are in the set; logs
   * `worker.deferred_rescheduled`, or `worker.reschedule_failed` (they come back at their old times).
   */
  reschedule(items: readonly DeferredMessage[]): void {
    const reschedule = this.target.reschedule?.bind(this.target);
    if (reschedule === undefined || items.length === 0 || this.closed) return;
    void this.flush()
      .then(() => reschedule(items))
      .then((changed) => {
        let earliest = Number.POSITIVE_INFINITY;
        for (const m of items) if (m.dueMs < earliest) earliest = m.dueMs;
        if (changed > 0) this.deferredListener?.(earliest);
        this.logger.info(
          { event: 'worker.deferred_rescheduled', count: changed, asked: items.length },
          `Gave ${changed} message(s) in the delayed set new due times (a fleet limit changed)`,
        );
      })
      .catch((error: unknown) => {
        this.logger.warn(
          { event: 'worker.reschedule_failed', count: items.length, err: error },
          'Could not give delayed messages new due times; they come back at the times set before',
        );
      });
  }

  private flush(): Promise<void> {
    if (this.sending !== null || this.queued.length === 0) return this.sending ?? Promise.resolve();
    const batch = this.queued;
    this.queued = [];
    this.sending = this.send(batch).finally(() => {
      this.sending = null;
      if (this.queued.length > 0 && this.retryTimer === null && !this.closed) void this.flush();
    });
    return this.sending;
  }

  private async send(batch: DeferredMessage[]): Promise<void> {
    try {
      const moved = await this.target.defer(batch);
      this.failures = 0;
      this.deferredCount += moved;
      this.logDeferred(batch, moved);
      if (this.deferredListener !== null && moved > 0) {
        let earliest = Number.POSITIVE_INFINITY;
        for (const m of batch) if (m.dueMs < earliest) earliest = m.dueMs;
        this.deferredListener(earliest);
      }
    } catch (error) {
      const retryMs = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)] as number;
      this.failures++;
      this.logger.warn(
        { event: 'worker.eta_defer_failed', count: batch.length, retry_in_ms: retryMs, err: error },
        'Could not move eta messages to the delayed set; they stay held (unacked), retrying',
      );
      this.queued = batch.concat(this.queued);
      if (this.closed) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.flush();
      }, retryMs);
      this.retryTimer.unref();
    }
  }

  private logDeferred(batch: DeferredMessage[], moved: number): void {
    const now = Date.now();
    let latest = batch[0] as DeferredMessage;
    let farFuture = 0;
    for (const m of batch) {
      if (m.dueMs > latest.dueMs) latest = m;
      if (m.dueMs - now > FAR_FUTURE_MS) farFuture++;
    }
    const fields = {
      event: 'worker.eta_deferred',
      count: moved,
      far_future: farFuture,
      latest_eta: new Date(latest.dueMs).toISOString(),
      horizon_ms: this.horizonMs,
      task_ids: batch.slice(0, LOGGED_IDS).map((m) => m.taskId),
    } as const;
    if (farFuture > 0) {
      this.logger.info(
        fields,
        `Moved ${moved} eta message(s) to the delayed set, ${farFuture} due more than a day from now (latest ${fields.latest_eta}, task ${latest.taskId})`,
      );
    } else {
      this.logger.debug(fields, `Moved ${moved} eta message(s) to the delayed set`);
    }
  }

  /**
   * Shutdown: one last try for what is queued, then stops; resolves with the messages still not
   * moved (the caller hands them back to their queues).
   */
  async close(): Promise<DeferredMessage[]> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.sending;
    if (this.queued.length > 0) await this.flush();
    const left = this.queued;
    this.queued = [];
    return left;
  }
}
