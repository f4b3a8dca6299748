import type { Logger } from '@celeriac/logger';

/** The broker call (`RedisBroker.markStarted`). */
export interface StartMarkTarget {
  markStarted(tags: readonly string[]): Promise<number[]>;
}

/**
 * Before a redelivered message runs, its start is recorded in Redis (the owner's started set), so
 * that if the task kills the worker, the restore counts a redelivery for it, and not for messages
 * that were only prefetched. Everything marked in one event-loop turn goes in one call; the
 * callback gets the message's redelivery count so far (0 when the mark failed: the task runs
 * anyway, logged `worker.start_mark_failed`). First deliveries are never marked: no cost on the
 * normal path.
 */
export class StartMarks {
  private queued: { tag: string; then: (crashes: number) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly target: StartMarkTarget,
    private readonly logger: Logger,
  ) {}

  mark(tag: string, then: (crashes: number) => void): void {
    this.queued.push({ tag, then });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.queued;
      this.queued = [];
      this.target.markStarted(batch.map((b) => b.tag)).then(
        (counts) => {
          for (let i = 0; i < batch.length; i++) batch[i]!.then(counts[i] ?? 0);
        },
        (error: unknown) => {
          this.logger.warn(
            { event: 'worker.start_mark_failed', count: batch.length, err: error },
            'Could not record the start of redelivered messages; running them anyway (a crash will not be counted)',
          );
          for (const b of batch) b.then(0);
        },
      );
    });
  }
}
