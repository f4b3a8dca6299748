/** Every `code` an error of the client can carry. */
export type ClientErrorCode =
  | 'CLIENT_RESULT_TIMEOUT'
  | 'CLIENT_TASK_REVOKED'
  | 'CLIENT_CONFIG_INVALID'
  | 'CLIENT_APPLY_OPTIONS_INVALID'
  | 'CLIENT_CLOSED'
  | 'CLIENT_TASK_ALREADY_REGISTERED'
  | 'CLIENT_TASK_DEFINITION_INVALID'
  | 'CLIENT_CHAIN_INVALID'
  | 'CLIENT_CANVAS_INVALID'
  | 'CLIENT_BATCH_PARTIALLY_SENT';

/** Base class of every error the client throws: `code` is stable, `message` says what to do. */
export class CeleriacError extends Error {
  static readonly codes: readonly ClientErrorCode[] = [
    'CLIENT_RESULT_TIMEOUT',
    'CLIENT_TASK_REVOKED',
    'CLIENT_CONFIG_INVALID',
    'CLIENT_APPLY_OPTIONS_INVALID',
    'CLIENT_CLOSED',
    'CLIENT_TASK_ALREADY_REGISTERED',
    'CLIENT_TASK_DEFINITION_INVALID',
    'CLIENT_CHAIN_INVALID',
    'CLIENT_CANVAS_INVALID',
    'CLIENT_BATCH_PARTIALLY_SENT',
  ];
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `AsyncResult.get()` did not see a ready state within its timeout. */
export class TimeoutError extends CeleriacError {
  static override readonly codes = ['CLIENT_RESULT_TIMEOUT'] as const;
  readonly taskId: string;
  readonly timeoutMs: number;

  constructor(taskId: string, timeoutMs: number) {
    super(
      'CLIENT_RESULT_TIMEOUT',
      `task ${taskId} was not ready within ${timeoutMs} ms; is a worker consuming its queue, and is the result backend the one the worker writes to?`,
    );
    this.taskId = taskId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * `AsyncResult.get()` found the task REVOKED (for example it expired before a worker ran it).
 * The worker stores Celery's `celery.exceptions.TaskRevokedError`; this is what the client throws for it.
 */
export class TaskRevokedError extends CeleriacError {
  static override readonly codes = ['CLIENT_TASK_REVOKED'] as const;
  readonly taskId: string;
  readonly reason: string;

  constructor(taskId: string, reason: string) {
    super('CLIENT_TASK_REVOKED', `task ${taskId} was revoked (${reason}); send it again if it still has to run`);
    this.taskId = taskId;
    this.reason = reason;
  }
}

/** A setting, `task_annotations` entry or config file could not be used. */
export class ConfigError extends CeleriacError {
  static override readonly codes = ['CLIENT_CONFIG_INVALID'] as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLIENT_CONFIG_INVALID', message, options);
  }
}

/** `applyAsync`/`sendTask` got an option it cannot honour. */
export class ApplyOptionsError extends CeleriacError {
  static override readonly codes = ['CLIENT_APPLY_OPTIONS_INVALID'] as const;
  constructor(message: string) {
    super('CLIENT_APPLY_OPTIONS_INVALID', message);
  }
}

/** The app was closed; create a new `Celeriac` to send more tasks. */
export class ClientClosedError extends CeleriacError {
  static override readonly codes = ['CLIENT_CLOSED'] as const;
  constructor(action: string) {
    super('CLIENT_CLOSED', `cannot ${action}: this Celeriac app was closed; create a new app to send more tasks`);
  }
}

/** A task name was registered twice with different functions. */
export class TaskAlreadyRegisteredError extends CeleriacError {
  static override readonly codes = ['CLIENT_TASK_ALREADY_REGISTERED'] as const;
  constructor(name: string) {
    super(
      'CLIENT_TASK_ALREADY_REGISTERED',
      `a task named "${name}" is already registered on this app; give each task a unique name`,
    );
  }
}

/** `app.task(name, fn, options)` got a bad name, something that is not a function, or options it cannot honour. */
export class TaskDefinitionError extends CeleriacError {
  static override readonly codes = ['CLIENT_TASK_DEFINITION_INVALID'] as const;
  readonly problems: readonly string[];

  constructor(name: string, problems: readonly string[]) {
    super('CLIENT_TASK_DEFINITION_INVALID', `task "${name}" cannot be registered: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** A chain has no steps, or no app to send it with. */
export class ChainError extends CeleriacError {
  static override readonly codes = ['CLIENT_CHAIN_INVALID'] as const;
  constructor(message: string) {
    super('CLIENT_CHAIN_INVALID', message);
  }
}

/**
 * `applyMany` could not encode one entry of its batch. Entries are streamed to Redis as they are
 * built, so the ones before it were sent: their results are in `sent`.
 */
export class BatchPartiallySentError extends CeleriacError {
  static override readonly codes = ['CLIENT_BATCH_PARTIALLY_SENT'] as const;
  readonly failedIndex: number;
  readonly sent: readonly unknown[];

  constructor(failedIndex: number, sent: readonly unknown[], cause: unknown) {
    super(
      'CLIENT_BATCH_PARTIALLY_SENT',
      `argsList[${failedIndex}] cannot be sent (${(cause as Error)?.message ?? String(cause)}); the ${failedIndex} tasks before it were sent (see .sent), the rest were not`,
      { cause },
    );
    this.failedIndex = failedIndex;
    this.sent = sent;
  }
}
