import { redactSecrets, redactUrl } from '@celeriac/logger';

/** Every `code` an error of the result backend can carry. */
export type ResultBackendErrorCode =
  | 'RESULT_BACKEND_UNAVAILABLE'
  | 'RESULT_BACKEND_CLOSED'
  | 'RESULT_BACKEND_BAD_ARGUMENT'
  | 'RESULT_BACKEND_SCRIPT_MISSING'
  | 'RESULT_CONTENT_DISALLOWED';

/** Base class of every error the result backend raises; `code` is stable and safe to match on. */
export class ResultBackendError extends Error {
  static readonly codes: readonly ResultBackendErrorCode[] = [
    'RESULT_BACKEND_UNAVAILABLE',
    'RESULT_BACKEND_CLOSED',
    'RESULT_BACKEND_BAD_ARGUMENT',
    'RESULT_BACKEND_SCRIPT_MISSING',
    'RESULT_CONTENT_DISALLOWED',
  ];

  constructor(
    readonly code: ResultBackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Redis could not be reached or answered with an error; the operation may be retried once it is back. */
export class ResultBackendUnavailableError extends ResultBackendError {
  static override readonly codes = ['RESULT_BACKEND_UNAVAILABLE'] as const;
  constructor(url: string, operation: string, cause: unknown) {
    const text = redactSecrets(cause instanceof Error ? cause.message : String(cause));
    super(
      'RESULT_BACKEND_UNAVAILABLE',
      `result backend ${operation} failed: Redis at ${redactUrl(url)} did not serve it (${text}); ` +
        'check that Redis is running and reachable, the operation can be retried once it is back',
      { cause },
    );
  }
}

/** The backend is not started, or already closed. */
export class ResultBackendClosedError extends ResultBackendError {
  static override readonly codes = ['RESULT_BACKEND_CLOSED'] as const;
  constructor(operation: string, state: 'not started' | 'closed') {
    super(
      'RESULT_BACKEND_CLOSED',
      `result backend ${operation} called while it is ${state}; call start() first and do not use it after close()`,
    );
  }
}

/** An argument is outside what the backend accepts. */
export class ResultBackendArgumentError extends ResultBackendError {
  static override readonly codes = ['RESULT_BACKEND_BAD_ARGUMENT'] as const;
  constructor(message: string) {
    super('RESULT_BACKEND_BAD_ARGUMENT', message);
  }
}

/** A Lua script of the backend is not installed beside its code (a broken install). */
export class ResultBackendScriptMissingError extends ResultBackendError {
  static override readonly codes = ['RESULT_BACKEND_SCRIPT_MISSING'] as const;
  constructor(file: string, dir: string) {
    super(
      'RESULT_BACKEND_SCRIPT_MISSING',
      `result-backend Lua script ${file} not found next to ${dir}; reinstall @celeriac/result-backend`,
    );
  }
}

/**
 * A stored result is in a serializer the reader does not accept (`result_accept_content`, or
 * `accept_content` when that is unset): it is refused before it is decoded, as Celery refuses it
 * (`kombu.exceptions.ContentDisallowed`).
 */
export class ResultContentDisallowedError extends ResultBackendError {
  static override readonly codes = ['RESULT_CONTENT_DISALLOWED'] as const;
  constructor(
    readonly taskId: string,
    readonly serializer: string,
    readonly accept: readonly string[],
  ) {
    super(
      'RESULT_CONTENT_DISALLOWED',
      `the result of task ${taskId} is stored as ${serializer}, which this client does not accept ` +
        `(result_accept_content, or accept_content when it is unset: ${JSON.stringify(accept)}); ` +
        `add "${serializer}" to result_accept_content, or set the workers' result_serializer to an accepted one`,
    );
  }
}
