import type { OptionSpec, ParsedArgs } from './parse-args.js';
import { stringOption } from './parse-args.js';

/** `--key-prefix`: kombu's `global_keyprefix` of the broker the command talks to. */
export const KEY_PREFIX_OPTION: OptionSpec = { name: 'key-prefix', value: true };

/** The usage line of `--key-prefix`. */
export const KEY_PREFIX_USAGE =
  '      --key-prefix <p>      broker_transport_options.global_keyprefix of the workers (default: CELERIAC_BROKER_KEY_PREFIX, else none)\n';

/**
 * The broker key prefix a command uses: `--key-prefix`, else `CELERIAC_BROKER_KEY_PREFIX`, else ''.
 * Workers and clients with `global_keyprefix` keep every key and channel under it, so the CLI must
 * name the same one to see them.
 */
export function keyPrefixFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  return stringOption(args, 'key-prefix') ?? env.CELERIAC_BROKER_KEY_PREFIX ?? '';
}
