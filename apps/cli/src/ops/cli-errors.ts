/** Exit codes of `celeriac config` and `celeriac nodes`. */
export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  auth: 3,
  validation: 4,
  conflict: 5,
} as const;

/** An error the CLI reports as one message (plus field lines) and an exit code. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  /** `path: message` lines from the server or the local checks. */
  readonly details: string[];

  constructor(code: string, message: string, exitCode: number, details: string[] = []) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** The command line was wrong: exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message, EXIT.usage);
  }
}
