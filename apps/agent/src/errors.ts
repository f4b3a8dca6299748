/** Every code an agent error can carry (docs/errors.md has a row for each). */
export const AGENT_ERROR_CODES = [
  'AGENT_USAGE',
  'AGENT_STATE_DIR',
  'AGENT_ILLEGAL_STATE',
  'AGENT_CENTER_UNREACHABLE',
  'AGENT_CENTER_REJECTED',
  'AGENT_CENTER_AUTH',
  'AGENT_CONFIG_INVALID',
  'AGENT_CONFIG_RENDER',
  'AGENT_PROGRAM_SPAWN_FAILED',
  'AGENT_PROGRAM_NOT_READY',
  'AGENT_PROGRAM_EXITED',
  'AGENT_FLEET_LIMITS_FAILED',
] as const;

/** Stable codes of every error the agent raises; tests and operators can match on them. */
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

/**
 * Base class of the agent's errors: a stable `code` plus a message that says what to do. Its
 * `codes` is the whole union; each code is raised by exactly one of the subclasses below.
 */
export abstract class AgentError extends Error {
  static readonly codes: readonly AgentErrorCode[] = AGENT_ERROR_CODES;
  readonly code: AgentErrorCode;

  constructor(code: AgentErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad command-line flags or environment for `celeriac agent` (also `--metrics-listen`). */
export class AgentUsageError extends AgentError {
  static override readonly codes = ['AGENT_USAGE'] as const;
  constructor(message: string) {
    super('AGENT_USAGE', message);
  }
}

/** The state dir cannot be created or written. */
export class AgentStateDirError extends AgentError {
  static override readonly codes = ['AGENT_STATE_DIR'] as const;
  constructor(message: string, options?: ErrorOptions) {
    super('AGENT_STATE_DIR', message, options);
  }
}

/** A method was called in a state that does not allow it (e.g. `start()` twice); the message names the state. */
export class AgentIllegalStateError extends AgentError {
  static override readonly codes = ['AGENT_ILLEGAL_STATE'] as const;
  constructor(message: string) {
    super('AGENT_ILLEGAL_STATE', message);
  }
}

/** The center could not be reached (network error, timeout), answered with a server error, or is not a center. */
export class CenterUnreachableError extends AgentError {
  static override readonly codes = ['AGENT_CENTER_UNREACHABLE'] as const;
  /** The HTTP status when the center answered 5xx. */
  readonly status: number | undefined;
  constructor(message: string, options?: ErrorOptions & { status?: number }) {
    super('AGENT_CENTER_UNREACHABLE', message, options);
    this.status = options?.status;
  }
}

/** The center refused the request (4xx); `status` is the HTTP status; 401 and 403 are `AGENT_CENTER_AUTH`. */
export class CenterRejectedError extends AgentError {
  static override readonly codes = ['AGENT_CENTER_REJECTED', 'AGENT_CENTER_AUTH'] as const;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(status === 401 || status === 403 ? 'AGENT_CENTER_AUTH' : 'AGENT_CENTER_REJECTED', message);
  }
}

/** A config from the center (or the last-known-good file) failed validation; `issues` lists every problem. */
export class ConfigInvalidError extends AgentError {
  static override readonly codes = ['AGENT_CONFIG_INVALID'] as const;
  constructor(
    readonly issues: { path: string; message: string }[],
    context: string,
  ) {
    super(
      'AGENT_CONFIG_INVALID',
      `${context} is invalid and was not applied: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
}

/** A program's config file could not be rendered (e.g. a template names a setting that does not exist). */
export class ConfigRenderError extends AgentError {
  static override readonly codes = ['AGENT_CONFIG_RENDER'] as const;
  constructor(message: string) {
    super('AGENT_CONFIG_RENDER', message);
  }
}

/** A program's process could not be started (missing executable, bad cwd, log dir not writable). */
export class ProgramSpawnError extends AgentError {
  static override readonly codes = ['AGENT_PROGRAM_SPAWN_FAILED'] as const;
  constructor(message: string, options?: ErrorOptions) {
    super('AGENT_PROGRAM_SPAWN_FAILED', message, options);
  }
}

/** The fleet limits of a revision could not be written to the broker Redis (fleet-limits-publisher.ts). */
export class FleetLimitsError extends AgentError {
  static override readonly codes = ['AGENT_FLEET_LIMITS_FAILED'] as const;
  constructor(message: string) {
    super('AGENT_FLEET_LIMITS_FAILED', message);
  }
}

/** A newly started process did not announce readiness within its ready timeout (`AGENT_PROGRAM_NOT_READY`), or exited first (`AGENT_PROGRAM_EXITED`). */
export class ProgramNotReadyError extends AgentError {
  static override readonly codes = ['AGENT_PROGRAM_NOT_READY', 'AGENT_PROGRAM_EXITED'] as const;
  constructor(message: string, code: (typeof ProgramNotReadyError.codes)[number] = 'AGENT_PROGRAM_NOT_READY') {
    super(code, message);
  }
}
