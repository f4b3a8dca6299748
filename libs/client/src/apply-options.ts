import type { Serializer, Signature } from '@celeriac/protocol';

/** Options of `applyAsync` / `sendTask`, with Celery's names. */
export interface ApplyOptions {
  /** Queue (Redis list) to send to; beats the task's own queue and `task_routes`. */
  queue?: string;
  /**
   * Accepted for Celery compatibility. On Redis the list is the queue, and the envelope's routing key
   * stays the queue name so that kombu's restore puts an unacked message back on the same list.
   */
  routing_key?: string;
  /**
   * Send through this named exchange (with `routing_key`): to every queue bound to it on Redis
   * (`_kombu.binding.<exchange>`) whose binding matches, as kombu does. A direct exchange without a
   * routing key means the queue's own list, as in Celery.
   */
  exchange?: string;
  /** The exchange's type when `task_queues` does not say it: direct (default), topic or fanout. */
  exchange_type?: 'direct' | 'topic' | 'fanout';
  /** Run no earlier than this many seconds from now. */
  countdown?: number;
  /** Run no earlier than this time. */
  eta?: Date;
  /** Seconds from now, or a time, after which the task is revoked instead of run. */
  expires?: number | Date;
  /** 0–9; lower is served first (kombu's Redis priority sub-lists). */
  priority?: number;
  /** Body serializer; the envelope's content type follows it. */
  serializer?: Serializer;
  /** Use this id instead of a fresh uuid4. */
  task_id?: string;
  /** Tasks to call with the result on success. */
  link?: Signature | Signature[];
  /** Tasks to call on failure. */
  link_error?: Signature | Signature[];
  /** Store no result. */
  ignore_result?: boolean;
  /** Hard time limit in seconds. */
  time_limit?: number;
  /** Soft time limit in seconds. */
  soft_time_limit?: number;
  /** Extra message headers. */
  headers?: Record<string, unknown>;
  /** Parent task id (set by workers for tasks they start). */
  parent_id?: string;
  /** Root task id of the workflow. */
  root_id?: string;
  /** Display name of the task (Celery's `shadow`). */
  shadow?: string;
}
