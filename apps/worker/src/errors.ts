/** Stable codes of the worker program's errors. */
export type WorkerCliErrorCode = 'USAGE' | 'APP_NOT_FOUND' | 'APP_INVALID' | 'CONFIG_INVALID';

/** An error the program reports in one line (exit code 2 for usage errors, 1 otherwise). */
export class WorkerCliError extends Error {
  readonly code: WorkerCliErrorCode;

  constructor(code: WorkerCliErrorCode, message: string) {
    super(message);
    this.name = 'WorkerCliError';
    this.code = code;
  }
}
