/** Every `code` a Celery exception raised by the worker can carry. */
export type CeleryExceptionCode =
  | 'WORKER_TASK_NOT_REGISTERED'
  | 'WORKER_CONTENT_DISALLOWED'
  | 'WORKER_MESSAGE_UNDECODABLE'
  | 'WORKER_RESULT_UNENCODABLE'
  | 'WORKER_SOFT_TIME_LIMIT'
  | 'WORKER_TIME_LIMIT'
  | 'WORKER_TASK_REVOKED'
  | 'WORKER_MAX_RETRIES_EXCEEDED'
  | 'WORKER_TASK_RETRY'
  | 'WORKER_CHORD_ERROR'
  | 'WORKER_LOST';

/**
 * Errors that Celery itself raises inside a worker, with the Python class and module that a
 * Python client's `get()` resolves them to. `name` is the Python class name (it crosses the wire);
 * `excModule`/`excArgs` are read by `exceptionDocument` so the stored result matches what a
 * Celery 5.2 worker writes. `code` is for JS code and logs; it is not stored.
 */
export class CeleryException extends Error {
  static readonly codes: readonly CeleryExceptionCode[] = [
    'WORKER_TASK_NOT_REGISTERED',
    'WORKER_CONTENT_DISALLOWED',
    'WORKER_MESSAGE_UNDECODABLE',
    'WORKER_RESULT_UNENCODABLE',
    'WORKER_SOFT_TIME_LIMIT',
    'WORKER_TIME_LIMIT',
    'WORKER_TASK_REVOKED',
    'WORKER_MAX_RETRIES_EXCEEDED',
    'WORKER_TASK_RETRY',
    'WORKER_CHORD_ERROR',
    'WORKER_LOST',
  ];
  readonly code: CeleryExceptionCode;
  /** Python module of the class, e.g. `celery.exceptions`. */
  readonly excModule: string;
  /** Python exception args (`exc_message`). */
  readonly excArgs: unknown[];

  constructor(code: CeleryExceptionCode, name: string, excModule: string, excArgs: unknown[], message: string) {
    super(message);
    this.code = code;
    this.name = name;
    this.excModule = excModule;
    this.excArgs = excArgs;
  }
}

/** A message named a task this worker does not know (`celery.exceptions.NotRegistered`). */
export class NotRegistered extends CeleryException {
  static override readonly codes = ['WORKER_TASK_NOT_REGISTERED'] as const;
  constructor(taskName: string) {
    super(
      'WORKER_TASK_NOT_REGISTERED',
      'NotRegistered',
      'celery.exceptions',
      [taskName],
      `Task "${taskName}" is not registered in this worker's app; register it with app.task() or route it to another worker.`,
    );
  }
}

/** A message's content type is not in `accept_content` (`kombu.exceptions.ContentDisallowed`). */
export class ContentDisallowed extends CeleryException {
  static override readonly codes = ['WORKER_CONTENT_DISALLOWED'] as const;
  constructor(reason: string) {
    super('WORKER_CONTENT_DISALLOWED', 'ContentDisallowed', 'kombu.exceptions', [reason], reason);
  }
}

/** A message could not be decoded (`kombu.exceptions.DecodeError`). */
export class DecodeError extends CeleryException {
  static override readonly codes = ['WORKER_MESSAGE_UNDECODABLE'] as const;
  constructor(reason: string) {
    super('WORKER_MESSAGE_UNDECODABLE', 'DecodeError', 'kombu.exceptions', [reason], reason);
  }
}

/** A task's return value could not be serialized (`kombu.exceptions.EncodeError`). */
export class EncodeError extends CeleryException {
  static override readonly codes = ['WORKER_RESULT_UNENCODABLE'] as const;
  constructor(reason: string) {
    super('WORKER_RESULT_UNENCODABLE', 'EncodeError', 'kombu.exceptions', [reason], reason);
  }
}

/** Reason of `ctx.signal` at the soft time limit; Celery re-exports billiard's class. */
export class SoftTimeLimitExceeded extends CeleryException {
  static override readonly codes = ['WORKER_SOFT_TIME_LIMIT'] as const;
  constructor(softLimitSec: number) {
    super(
      'WORKER_SOFT_TIME_LIMIT',
      'SoftTimeLimitExceeded',
      'billiard.exceptions',
      [],
      `Soft time limit (${softLimitSec}s) exceeded; the task should stop and clean up.`,
    );
  }
}

/** Stored when a task passes its hard time limit; Celery re-exports billiard's class. */
export class TimeLimitExceeded extends CeleryException {
  static override readonly codes = ['WORKER_TIME_LIMIT'] as const;
  constructor(hardLimitSec: number) {
    super(
      'WORKER_TIME_LIMIT',
      'TimeLimitExceeded',
      'billiard.exceptions',
      [hardLimitSec],
      `Hard time limit (${hardLimitSec}s) exceeded; the worker stopped waiting for the task.`,
    );
  }
}

/**
 * `celery.exceptions.TaskRevokedError`, stored as the REVOKED result of an expired message. The JS
 * class is named apart from the client's `TaskRevokedError` (what `AsyncResult.get()` throws); its
 * `name` stays Python's.
 */
export class CeleryTaskRevokedError extends CeleryException {
  static override readonly codes = ['WORKER_TASK_REVOKED'] as const;
  constructor(reason: string) {
    super('WORKER_TASK_REVOKED', 'TaskRevokedError', 'celery.exceptions', [reason], `Task revoked: ${reason}`);
  }
}

/** A task asked to retry more often than `max_retries` allows and gave no `exc`. */
export class MaxRetriesExceededError extends CeleryException {
  static override readonly codes = ['WORKER_MAX_RETRIES_EXCEEDED'] as const;
  constructor(taskName: string, taskId: string, maxRetries: number) {
    super(
      'WORKER_MAX_RETRIES_EXCEEDED',
      'MaxRetriesExceededError',
      'celery.exceptions',
      [`Can't retry ${taskName}[${taskId}] (max_retries=${maxRetries})`],
      `Can't retry ${taskName}[${taskId}]: max_retries=${maxRetries} reached.`,
    );
  }
}

/** Thrown by `ctx.retry()`: the executor republishes the task instead of failing it. */
export class Retry extends CeleryException {
  static override readonly codes = ['WORKER_TASK_RETRY'] as const;
  /** Seconds from now, or null when `eta` is given. */
  readonly countdownSec: number | null;
  readonly eta: Date | null;
  /** The error that caused the retry, stored as the RETRY result. */
  readonly exc: unknown;
  readonly maxRetries: number | null | undefined;

  constructor(o: {
    countdownSec: number | null;
    eta: Date | null;
    exc: unknown;
    maxRetries: number | null | undefined;
  }) {
    const when = o.eta ? `at ${o.eta.toISOString()}` : `in ${o.countdownSec ?? 0}s`;
    super('WORKER_TASK_RETRY', 'Retry', 'celery.exceptions', [`Retry ${when}`], `Retry ${when}`);
    this.countdownSec = o.countdownSec;
    this.eta = o.eta;
    this.exc = o.exc;
    this.maxRetries = o.maxRetries;
  }
}

/**
 * A chord's body cannot run: a header part failed (`Dependency <id> raised ...`) or the body could
 * not be sent (`Callback error: ...`). Stored as the body's FAILURE, as Celery's
 * `celery.exceptions.ChordError`.
 */
export class ChordError extends CeleryException {
  static override readonly codes = ['WORKER_CHORD_ERROR'] as const;
  constructor(reason: string) {
    super('WORKER_CHORD_ERROR', 'ChordError', 'celery.exceptions', [reason], reason);
  }
}

/**
 * Stored for an acks_late task whose worker died while running it, when
 * `task_reject_on_worker_lost` is false: billiard's `WorkerLostError`, as Celery stores it when a
 * pool process dies.
 */
export class WorkerLostError extends CeleryException {
  static override readonly codes = ['WORKER_LOST'] as const;
  constructor() {
    const message =
      'Worker exited prematurely while running the task; not run again (task_reject_on_worker_lost is false).';
    super('WORKER_LOST', 'WorkerLostError', 'billiard.exceptions', [message], message);
  }
}
