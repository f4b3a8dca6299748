/** Exit codes of `celeriac config`, `celeriac nodes` and the program commands' usage errors. */
export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  auth: 3,
  validation: 4,
  conflict: 5,
} as const;

const CLI_ERROR_CODES = [
  'CLI_USAGE',
  'CLI_CENTER_UNREACHABLE',
  'CLI_CENTER_UNTRUSTED',
  'CLI_CENTER_REFUSED',
  'CLI_BAD_ANSWER',
  'CLI_EDITOR_FAILED',
  'CLI_DOCUMENT_INVALID',
  'CLI_UP_FAILED',
] as const;

/** Every code a CLI error can carry. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/** An error the CLI reports as one message (plus field lines) and an exit code. */
export class CliError extends Error {
  static readonly codes: readonly CliErrorCode[] = CLI_ERROR_CODES;
  readonly code: CliErrorCode;
  readonly exitCode: number;
  /** `path: message` lines from the server or the local checks. */
  readonly details: string[];

  constructor(code: CliErrorCode, message: string, exitCode: number, details: string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** The command line was wrong (a flag, an argument, a file named on it): exit 2, nothing was sent. */
export class CliUsageError extends CliError {
  static override readonly codes = ['CLI_USAGE'] as const;
  constructor(message: string) {
    super('CLI_USAGE', message, EXIT.usage);
  }
}
