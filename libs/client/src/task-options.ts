import type { Serializer } from '@celeriac/protocol';

/** A task function; sync or async. */
// biome-ignore lint/suspicious/noExplicitAny: task functions take whatever their callers send.
export type TaskFn = (...args: any[]) => unknown;

/** Per-task options (Celery's task attributes). */
export interface TaskOptions {
  /** Celery rate limit: `'10/m'`, `'5/s'`, `'100/h'`, or tasks per second. */
  rate_limit?: string | number;
  acks_late?: boolean;
  ignore_result?: boolean;
  /** Default 3. */
  max_retries?: number;
  /** Seconds; default 180. */
  default_retry_delay?: number;
  /** Hard time limit, seconds. */
  time_limit?: number;
  /** Soft time limit, seconds. */
  soft_time_limit?: number;
  serializer?: Serializer;
  queue?: string;
  /** Parameter names: kwargs sent by a caller are mapped onto these positions. */
  params?: string[];
  /** The first argument is the task context. */
  bind?: boolean;
  /** Error names that trigger an automatic retry. */
  autoretry_for?: string[];
  retry_backoff?: boolean;
  /** Default priority of the task's messages. */
  priority?: number;
  [other: string]: unknown;
}
