import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { type CeleryException, ContentDisallowed, DecodeError, NotRegistered } from './celery-exceptions.js';
import { exceptionDocument } from './exception-document.js';
import { DATE_DONE_AT_FLUSH, type ResultFlusher } from './result-flusher.js';
import { NO_TASK_EVENTS, type TaskEvents } from './task-events.js';
import { taskHealth } from './task-health.js';

/** Why a message cannot be run (a decode failure from protocol, or an unknown task). */
export interface RejectionReason {
  code: string;
  reason: string;
  taskId?: string;
  taskName?: string;
  /** The error behind an `unexpected` rejection (logged as `err`). */
  error?: unknown;
}

/** The broker side of a rejection. */
export interface DeadLetterTarget {
  deadLetter(delivery: Delivery, reason: string): Promise<void>;
}

function exceptionFor(r: RejectionReason): CeleryException {
  if (r.code === 'not_registered') return new NotRegistered(r.taskName ?? '');
  if (r.code === 'content_type_refused') return new ContentDisallowed(r.reason);
  return new DecodeError(r.reason);
}

/**
 * The bad-input path: log the reason (with the task id when known), move the entry to the
 * dead-letter list (off the queue, kept for inspection, acked), store a FAILURE result when a task
 * id is known. Never throws: a bad message must not stop the worker.
 */
export class MessageRejection {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly broker: DeadLetterTarget,
    private readonly flusher: ResultFlusher,
    private readonly logger: Logger,
    private readonly events: TaskEvents = NO_TASK_EVENTS,
  ) {}

  /** Rejects one delivery; the returned promise never rejects. */
  reject(delivery: Delivery, r: RejectionReason): void {
    this.logger.warn(
      {
        event: 'worker.message_rejected',
        code: r.code,
        reason: r.reason,
        task_id: r.taskId,
        task: r.taskName,
        queue: delivery.queue,
        delivery_tag: delivery.deliveryTag,
        err: r.error,
      },
      `Rejected a message (${r.code}): moved to the dead-letter list`,
    );
    taskHealth.rejected(r.taskName);
    if (r.taskId !== undefined && r.taskId !== '') {
      if (this.events.on) {
        // As Celery: an unknown task is a failure to monitors; other bad input is a rejection.
        if (r.code === 'not_registered') this.events.unknownTask(r.taskId, r.taskName ?? '');
        else this.events.rejected(r.taskId, false);
      }
      const outcome = exceptionDocument(exceptionFor(r), false);
      this.flusher.add(
        {
          status: 'FAILURE',
          result: outcome.result,
          traceback: null,
          children: [],
          date_done: DATE_DONE_AT_FLUSH,
          task_id: r.taskId,
        },
        null,
      );
    }
    const work = this.broker.deadLetter(delivery, `${r.code}: ${r.reason}`).catch((error: unknown) => {
      this.logger.error(
        { event: 'worker.dead_letter_failed', delivery_tag: delivery.deliveryTag, err: error },
        'Could not move a rejected message to the dead-letter list; it returns after the visibility timeout',
      );
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /**
   * `task_acks_on_failure_or_timeout: false`: an acks_late task failed or timed out, and Celery
   * rejects its message without requeue. Here it is moved to the dead-letter list (off the queue,
   * kept for inspection) with `task_failed` as the reason, and `task-rejected` is sent. The result
   * is the caller's to store. Never rejects.
   */
  rejectFailed(delivery: Delivery, taskId: string, taskName: string, error: unknown): Promise<void> {
    this.logger.warn(
      {
        event: 'worker.failed_task_rejected',
        task_id: taskId,
        task: taskName,
        queue: delivery.queue,
        delivery_tag: delivery.deliveryTag,
      },
      'task_acks_on_failure_or_timeout is false: the failed task is rejected (moved to the dead-letter list), not acked',
    );
    if (this.events.on) this.events.rejected(taskId, false);
    const name = error instanceof Error ? error.name : typeof error;
    const message = error instanceof Error ? error.message : String(error);
    const work = this.broker.deadLetter(delivery, `task_failed: ${name}: ${message}`).catch((failure: unknown) => {
      this.logger.error(
        { event: 'worker.dead_letter_failed', delivery_tag: delivery.deliveryTag, err: failure },
        'Could not move a rejected message to the dead-letter list; it returns after the visibility timeout',
      );
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return work;
  }

  /** Resolves when every rejection started so far is done. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
