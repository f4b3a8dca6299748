/**
 * An error of the worker runtime; `code` is stable, the message says what to do.
 *
 * - `WORKER_BAD_OPTIONS`: `new Worker(...)` got an option it cannot work with (concurrency, queues),
 *   or the app cannot resolve task options (no `taskOptions()`).
 * - `WORKER_BAD_SETTING`: a Celery setting or a task's options are invalid (all problems listed).
 * - `WORKER_STATE`: a life-cycle call the worker's current state does not allow (e.g. `start()` twice).
 * - `WORKER_NO_BROKER_URL`: no `broker_url` is configured.
 * - `WORKER_BAD_RATE_LIMIT`: a `rate_limit` that is not `"10/m"`-like or a number per second.
 * - `WORKER_JOB_STATE`: a job was moved in a way its custody state does not allow (a bug: report it).
 */
export class WorkerError extends Error {
  static readonly codes = [
    'WORKER_BAD_OPTIONS',
    'WORKER_BAD_SETTING',
    'WORKER_STATE',
    'WORKER_NO_BROKER_URL',
    'WORKER_BAD_RATE_LIMIT',
    'WORKER_JOB_STATE',
  ] as const;

  readonly code: WorkerErrorCode;

  constructor(code: WorkerErrorCode, message: string) {
    super(message);
    this.name = 'WorkerError';
    this.code = code;
  }
}

/** Stable codes of the errors the worker runtime throws. */
export type WorkerErrorCode = (typeof WorkerError.codes)[number];
