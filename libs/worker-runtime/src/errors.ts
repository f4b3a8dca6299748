/** Stable codes of the errors the worker runtime throws. */
export type WorkerErrorCode =
  | 'WORKER_BAD_OPTIONS'
  | 'WORKER_BAD_SETTING'
  | 'WORKER_STATE'
  | 'WORKER_NO_BROKER_URL'
  | 'WORKER_BAD_RATE_LIMIT';

/** An error of the worker runtime; `code` is stable, the message says what to do. */
export class WorkerError extends Error {
  readonly code: WorkerErrorCode;

  constructor(code: WorkerErrorCode, message: string) {
    super(message);
    this.name = 'WorkerError';
    this.code = code;
  }
}
