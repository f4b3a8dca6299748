/** Stable codes of every error the agent raises; tests and operators can match on them. */
export type AgentErrorCode =
  | 'AGENT_USAGE'
  | 'AGENT_STATE_DIR'
  | 'CENTER_UNREACHABLE'
  | 'CENTER_REJECTED'
  | 'CENTER_AUTH'
  | 'CONFIG_INVALID'
  | 'CONFIG_RENDER'
  | 'PROGRAM_SPAWN_FAILED'
  | 'PROGRAM_NOT_READY'
  | 'PROGRAM_EXITED';

/** Base class of the agent's errors: a stable `code` plus a message that says what to do. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command-line flags or environment for `celeriac agent`. */
export class AgentUsageError extends AgentError {
  constructor(message: string) {
    super('AGENT_USAGE', message);
  }
}

/** The center could not be reached (network error, timeout) or answered with a server error. */
export class CenterUnreachableError extends AgentError {
  constructor(message: string, options?: ErrorOptions) {
    super('CENTER_UNREACHABLE', message, options);
  }
}

/** The center refused the request (4xx); `status` is the HTTP status. */
export class CenterRejectedError extends AgentError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(status === 401 || status === 403 ? 'CENTER_AUTH' : 'CENTER_REJECTED', message);
  }
}

/** A config from the center (or the last-known-good file) failed validation; `issues` lists every problem. */
export class ConfigInvalidError extends AgentError {
  constructor(
    readonly issues: { path: string; message: string }[],
    context: string,
  ) {
    super(
      'CONFIG_INVALID',
      `${context} is invalid and was not applied: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
}

/** A program's config file could not be rendered (e.g. a template names a setting that does not exist). */
export class ConfigRenderError extends AgentError {
  constructor(message: string) {
    super('CONFIG_RENDER', message);
  }
}

/** A program's process could not be started (missing executable, bad cwd). */
export class ProgramSpawnError extends AgentError {
  constructor(message: string, options?: ErrorOptions) {
    super('PROGRAM_SPAWN_FAILED', message, options);
  }
}

/** A newly started process did not announce readiness within its ready timeout, or exited first. */
export class ProgramNotReadyError extends AgentError {
  constructor(message: string, code: 'PROGRAM_NOT_READY' | 'PROGRAM_EXITED' = 'PROGRAM_NOT_READY') {
    super(code, message);
  }
}
