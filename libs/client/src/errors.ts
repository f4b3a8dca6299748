/** Base class of every error the client throws: `code` is stable, `message` says what to do. */
export class CeleriacError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `AsyncResult.get()` did not see a ready state within its timeout. */
export class TimeoutError extends CeleriacError {
  readonly taskId: string;
  readonly timeoutMs: number;

  constructor(taskId: string, timeoutMs: number) {
    super(
      'RESULT_TIMEOUT',
      `task ${taskId} was not ready within ${timeoutMs} ms; is a worker consuming its queue, and is the result backend the one the worker writes to?`,
    );
    this.taskId = taskId;
    this.timeoutMs = timeoutMs;
  }
}

/** The task was revoked (for example it expired before a worker ran it). */
export class TaskRevokedError extends CeleriacError {
  readonly taskId: string;
  readonly reason: string;

  constructor(taskId: string, reason: string) {
    super('TASK_REVOKED', `task ${taskId} was revoked (${reason}); send it again if it still has to run`);
    this.taskId = taskId;
    this.reason = reason;
  }
}

/** A setting or a config file could not be used. */
export class ConfigError extends CeleriacError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
  }
}

/** `applyAsync`/`sendTask` got an option it cannot honour. */
export class ApplyOptionsError extends CeleriacError {
  constructor(message: string) {
    super('APPLY_OPTIONS_INVALID', message);
  }
}

/** The app was closed; create a new `Celeriac` to send more tasks. */
export class ClientClosedError extends CeleriacError {
  constructor(action: string) {
    super('CLIENT_CLOSED', `cannot ${action}: this Celeriac app was closed; create a new app to send more tasks`);
  }
}

/** A task name was registered twice with different functions. */
export class TaskAlreadyRegisteredError extends CeleriacError {
  constructor(name: string) {
    super(
      'TASK_ALREADY_REGISTERED',
      `a task named "${name}" is already registered on this app; give each task a unique name`,
    );
  }
}

/**
 * `applyMany` could not encode one entry of its batch. Entries are streamed to Redis as they are
 * built, so the ones before it were sent: their results are in `sent`.
 */
export class BatchPartiallySentError extends CeleriacError {
  readonly failedIndex: number;
  readonly sent: readonly unknown[];

  constructor(failedIndex: number, sent: readonly unknown[], cause: unknown) {
    super(
      'BATCH_PARTIALLY_SENT',
      `argsList[${failedIndex}] cannot be sent (${(cause as Error)?.message ?? String(cause)}); the ${failedIndex} tasks before it were sent (see .sent), the rest were not`,
      { cause },
    );
    this.failedIndex = failedIndex;
    this.sent = sent;
  }
}
