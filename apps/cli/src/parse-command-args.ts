import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Option values by long name, as `node:util` parseArgs gives them. */
export type CommandValues = Record<string, string | boolean | undefined>;

/** The options of a program command; every command takes `-h, --help`. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** What parsing gave: the option values to run with, or the exit code to return at once. */
export type ParsedCommand = { values: CommandValues; exitCode?: undefined } | { exitCode: number };

/**
 * Writes `celeriac <command>: <message>` to stderr, followed by the usage when given, and returns
 * the usage exit code 2.
 */
export function usageError(command: string, message: string, usage?: string): number {
  process.stderr.write(`celeriac ${command}: ${message}\n${usage === undefined ? '' : `\n${usage}`}`);
  return 2;
}

/**
 * Parses the flags of `celeriac <command>` strictly (no positionals). A bad flag prints the error
 * and the usage (exit 2); `--help` prints the usage (exit 0).
 */
export function parseCommandArgs(
  command: string,
  usage: string,
  argv: string[],
  options: CommandOptions,
): ParsedCommand {
  let values: CommandValues;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { exitCode: usageError(command, (error as Error).message, usage) };
  }
  if (values.help) {
    process.stdout.write(usage);
    return { exitCode: 0 };
  }
  return { values };
}
