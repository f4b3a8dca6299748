import { CliUsageError } from './cli-errors.js';

/** How one option is read. */
export interface OptionSpec {
  /** Long name without dashes, e.g. "message". */
  name: string;
  /** One-letter alias, e.g. "m". */
  short?: string;
  /** True when the option takes a value (`-m why`, `--message=why`). */
  value: boolean;
}

/** Options by long name (string values or true) and positional arguments in order. */
export interface ParsedArgs {
  options: Record<string, string | true>;
  positionals: string[];
}

/**
 * Parses `argv` against `specs`: `--name value`, `--name=value`, `-m value`, `-mvalue`, boolean
 * flags, and `--` to end options. An unknown option or a missing value is a CliUsageError.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(specs.filter((spec) => spec.short).map((spec) => [spec.short as string, spec]));
  const options: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (eq !== -1) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new CliUsageError(`unknown option --${name}`);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      spec = byShort.get(arg[1] as string);
      if (!spec) throw new CliUsageError(`unknown option ${arg.slice(0, 2)}`);
      if (arg.length > 2) inline = arg.slice(2);
    } else {
      positionals.push(arg);
      continue;
    }
    if (!spec.value) {
      if (inline !== undefined) throw new CliUsageError(`--${spec.name} takes no value`);
      options[spec.name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new CliUsageError(`--${spec.name} needs a value`);
    options[spec.name] = value;
  }
  return { options, positionals };
}

/** The string value of an option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options[name];
  return typeof value === 'string' ? value : undefined;
}
