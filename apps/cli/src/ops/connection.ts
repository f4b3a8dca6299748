import { readCenterCa } from './center-ca.js';
import { CenterClient } from './center-client.js';
import { type OptionSpec, type ParsedArgs, stringOption } from './parse-args.js';

/** Options every ops command takes. */
export const CONNECTION_OPTIONS: OptionSpec[] = [
  { name: 'center', value: true },
  { name: 'token', value: true },
  { name: 'ca-file', value: true },
  { name: 'help', short: 'h', value: false },
];

/** The center used when neither --center nor CELERIAC_CENTER is given. */
export const DEFAULT_CENTER_URL = 'http://127.0.0.1:8700';

/** A client for --center/--token/--ca-file, falling back to CELERIAC_CENTER/CELERIAC_TOKEN/CELERIAC_CA_FILE. */
export function clientFromArgs(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): CenterClient {
  const url = stringOption(args, 'center') ?? env.CELERIAC_CENTER ?? DEFAULT_CENTER_URL;
  const token = stringOption(args, 'token') ?? env.CELERIAC_TOKEN;
  const ca = readCenterCa(stringOption(args, 'ca-file'), env);
  return new CenterClient({ url, token: token || undefined, ...(ca ? { ca } : {}) });
}
