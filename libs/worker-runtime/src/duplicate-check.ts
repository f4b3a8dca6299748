import type { Logger } from '@celeriac/logger';
import { READY_STATES } from '@celeriac/protocol';

/** The result-backend read the check makes (`RedisResultBackend.storedStates`). */
export interface StoredStateSource {
  storedStates(taskIds: readonly string[]): Promise<(string | null)[]>;
}

/** What must go out before the read: results this worker queued (the `ResultFlusher`). */
export interface QueuedResults {
  sendQueued(): void;
}

/**
 * Before a redelivered message runs, reads its task's stored result: a final state (SUCCESS,
 * FAILURE, REVOKED) means a run of it completed already (its worker died after storing the result
 * and before its ack landed, acks_late's window), so it must be acked without running. Only
 * redelivered messages pay (first deliveries are never checked); everything asked in one
 * event-loop turn is one MGET. Results this worker has queued are sent first, on the connection
 * the read then uses, so the read sees every result stored here or by a dead worker before the
 * restore. A failed read lets the message run (logged `worker.duplicate_check_failed`): at least
 * once, never lost.
 */
export class DuplicateCheck {
  private queued: { taskId: string; then: (finalState: string | null) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly source: StoredStateSource,
    private readonly results: QueuedResults,
    private readonly logger: Logger,
  ) {}

  /** Calls `then` with the task's final stored state, or null when it has none (run it). */
  check(taskId: string, then: (finalState: string | null) => void): void {
    this.queued.push({ taskId, then });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.readBatch);
  }

  private readonly readBatch = (): void => {
    this.scheduled = false;
    const batch = this.queued;
    this.queued = [];
    this.results.sendQueued();
    let reading: Promise<(string | null)[]>;
    try {
      reading = this.source.storedStates(batch.map((b) => b.taskId));
    } catch (error) {
      reading = Promise.reject(error);
    }
    reading.then(
      (states) => {
        for (let i = 0; i < batch.length; i++) {
          const state = states[i] ?? null;
          (batch[i] as (typeof batch)[number]).then(state !== null && READY_STATES.has(state) ? state : null);
        }
      },
      (error: unknown) => {
        this.logger.warn(
          { event: 'worker.duplicate_check_failed', count: batch.length, err: error },
          'Could not read the stored results of redelivered messages; running them (one may run twice)',
        );
        for (const b of batch) b.then(null);
      },
    );
  };
}

/** The check for a worker's backend, or null when it cannot read stored states (or there is none). */
export function duplicateCheck(backend: object | null, results: QueuedResults, logger: Logger): DuplicateCheck | null {
  const source = backend as Partial<StoredStateSource> | null;
  return typeof source?.storedStates === 'function'
    ? new DuplicateCheck(source as StoredStateSource, results, logger)
    : null;
}
