import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';

/** The broker call a hand-back makes. */
export interface RequeueTarget {
  requeue(deliveries: readonly Delivery[]): Promise<unknown>;
}

/**
 * Hands deliveries back to their queues (redelivered, taken next) and keeps track of every
 * hand-back under way, so that shutdown can wait for all of them before closing the broker.
 * A failed hand-back is logged; those messages return after the visibility timeout.
 */
export class HandBack {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly broker: RequeueTarget,
    private readonly logger: Logger,
  ) {}

  /** Requeues `deliveries` now; the returned promise never rejects. */
  give(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return Promise.resolve();
    const work = this.broker.requeue(deliveries).then(
      () => undefined,
      (error: unknown) => {
        this.logger.error(
          { event: 'worker.requeue_failed', count: deliveries.length, err: error },
          'Could not hand messages back; they return after the visibility timeout',
        );
      },
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Resolves once every hand-back started so far (and any started meanwhile) is done. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
