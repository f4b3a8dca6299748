import { CenterClient } from './center-client.js';
import { type OptionSpec, type ParsedArgs, stringOption } from './parse-args.js';

/** Options every ops command takes. */
export const CONNECTION_OPTIONS: OptionSpec[] = [
  { name: 'center', value: true },
  { name: 'token', value: true },
  { name: 'help', short: 'h', value: false },
];

/** The center used when neither --center nor CELERIAC_CENTER is given. */
export const DEFAULT_CENTER_URL = 'http://127.0.0.1:8700';

/** A client for --center/--token, falling back to CELERIAC_CENTER/CELERIAC_TOKEN. */
export function clientFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): CenterClient {
  const url = stringOption(args, 'center') ?? env.CELERIAC_CENTER ?? DEFAULT_CENTER_URL;
  const token = stringOption(args, 'token') ?? env.CELERIAC_TOKEN;
  return new CenterClient({ url, token: token || undefined });
}
