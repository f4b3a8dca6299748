/**
 * Errors that Celery itself raises inside a worker, with the Python class and module that a
 * Python client's `get()` resolves them to. `excModule`/`excArgs` are read by
 * `exceptionDocument` so the stored result matches what a Celery 5.2 worker writes.
 */
export class CeleryException extends Error {
  /** Python module of the class, e.g. `celery.exceptions`. */
  readonly excModule: string;
  /** Python exception args (`exc_message`). */
  readonly excArgs: unknown[];

  constructor(name: string, excModule: string, excArgs: unknown[], message: string) {
    super(message);
    this.name = name;
    this.excModule = excModule;
    this.excArgs = excArgs;
  }
}

/** A message named a task this worker does not know (`celery.exceptions.NotRegistered`). */
export class NotRegistered extends CeleryException {
  constructor(taskName: string) {
    super(
      'NotRegistered',
      'celery.exceptions',
      [taskName],
      `Task "${taskName}" is not registered in this worker's app; register it with app.task() or route it to another worker.`,
    );
  }
}

/** A message's content type is not in `accept_content` (`kombu.exceptions.ContentDisallowed`). */
export class ContentDisallowed extends CeleryException {
  constructor(reason: string) {
    super('ContentDisallowed', 'kombu.exceptions', [reason], reason);
  }
}

/** A message could not be decoded (`kombu.exceptions.DecodeError`). */
export class DecodeError extends CeleryException {
  constructor(reason: string) {
    super('DecodeError', 'kombu.exceptions', [reason], reason);
  }
}

/** A task's return value could not be serialized (`kombu.exceptions.EncodeError`). */
export class EncodeError extends CeleryException {
  constructor(reason: string) {
    super('EncodeError', 'kombu.exceptions', [reason], reason);
  }
}

/** Reason of `ctx.signal` at the soft time limit; Celery re-exports billiard's class. */
export class SoftTimeLimitExceeded extends CeleryException {
  constructor(softLimitSec: number) {
    super(
      'SoftTimeLimitExceeded',
      'billiard.exceptions',
      [],
      `Soft time limit (${softLimitSec}s) exceeded; the task should stop and clean up.`,
    );
  }
}

/** Stored when a task passes its hard time limit; Celery re-exports billiard's class. */
export class TimeLimitExceeded extends CeleryException {
  constructor(hardLimitSec: number) {
    super(
      'TimeLimitExceeded',
      'billiard.exceptions',
      [hardLimitSec],
      `Hard time limit (${hardLimitSec}s) exceeded; the worker stopped waiting for the task.`,
    );
  }
}

/** Stored as the REVOKED result of an expired message. */
export class TaskRevokedError extends CeleryException {
  constructor(reason: string) {
    super('TaskRevokedError', 'celery.exceptions', [reason], `Task revoked: ${reason}`);
  }
}

/** A task asked to retry more often than `max_retries` allows and gave no `exc`. */
export class MaxRetriesExceededError extends CeleryException {
  constructor(taskName: string, taskId: string, maxRetries: number) {
    super(
      'MaxRetriesExceededError',
      'celery.exceptions',
      [`Can't retry ${taskName}[${taskId}] (max_retries=${maxRetries})`],
      `Can't retry ${taskName}[${taskId}]: max_retries=${maxRetries} reached.`,
    );
  }
}

/** Thrown by `ctx.retry()`: the executor republishes the task instead of failing it. */
export class Retry extends CeleryException {
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
    super('Retry', 'celery.exceptions', [`Retry ${when}`], `Retry ${when}`);
    this.countdownSec = o.countdownSec;
    this.eta = o.eta;
    this.exc = o.exc;
    this.maxRetries = o.maxRetries;
  }
}
