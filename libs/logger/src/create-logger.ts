import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { redactSecrets } from './redact.js';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** pino level name; defaults to `info`. */
  level?: string;
  /** Fixed bindings for every line, e.g. `{ component: 'worker' }`. */
  bindings?: Record<string, unknown>;
  /** Pretty output; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to inspect lines. */
  destination?: DestinationStream;
}

const SECRET_PATHS = [
  'password',
  'token',
  'authorization',
  '*.password',
  '*.token',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

/**
 * Builds the pino logger every program uses: secrets in known fields are redacted by path, and
 * every string value and message is passed through `redactSecrets` so that a broker URL with a
 * password never reaches a log line.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && options.destination === undefined);
  const base = {
    level: options.level ?? 'info',
    redact: { paths: SECRET_PATHS, censor: '***' },
    hooks: {
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)),
        );
      },
    },
    formatters: {
      log(object: Record<string, unknown>) {
        return scrubObject(object) as Record<string, unknown>;
      },
    },
  };
  const logger = pretty
    ? pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } })
    : options.destination
      ? pino(base, options.destination)
      : pino(base);
  return options.bindings ? logger.child(options.bindings) : logger;
}

function scrubObject(value: unknown, depth = 0): unknown {
  if (depth > 6) return value;
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map((v) => scrubObject(v, depth + 1));
  if (value instanceof Error) return value;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubObject(v, depth + 1);
    return out;
  }
  return value;
}
