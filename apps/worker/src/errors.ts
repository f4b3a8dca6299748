/**
 * An error the worker program reports in one line (exit code 2 for usage errors, 1 otherwise).
 *
 * - `WORKER_USAGE`: bad command-line arguments (exit 2).
 * - `WORKER_APP_NOT_FOUND`: the `-A` module does not exist.
 * - `WORKER_APP_INVALID`: the `-A` module fails to load or exports no Celeriac app.
 * - `WORKER_CONFIG_INVALID`: `--config` cannot be applied to the app.
 */
export class WorkerCliError extends Error {
  static readonly codes = [
    'WORKER_USAGE',
    'WORKER_APP_NOT_FOUND',
    'WORKER_APP_INVALID',
    'WORKER_CONFIG_INVALID',
  ] as const;

  readonly code: WorkerCliErrorCode;

  constructor(code: WorkerCliErrorCode, message: string) {
    super(message);
    this.name = 'WorkerCliError';
    this.code = code;
  }
}

/** Stable codes of the worker program's errors. */
export type WorkerCliErrorCode = (typeof WorkerCliError.codes)[number];
