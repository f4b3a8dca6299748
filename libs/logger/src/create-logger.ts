import { type ChildLoggerOptions, type DestinationStream, type Logger as PinoLogger, pino } from 'pino';
import { redactSecrets } from './redact.js';
import { scrubValue, serializeError } from './serialize-error.js';

/**
 * Fields of one log line: a dotted `event` (`worker.ready`, `agent.apply_failed`) and snake_case
 * fields; an error goes in `err`, as the Error itself (the serializer redacts it).
 */
export interface LogFields {
  event: `${string}.${string}`;
  err?: unknown;
  [field: string]: unknown;
}

/** One level's method: fields first, then an optional human message. */
export type LogMethod = (fields: LogFields, message?: string) => void;

/**
 * The logger every package takes. Narrower than pino's on purpose: every call carries an `event`
 * (the log schema, checked by `logSchemaViolations`), so a bare `log.warn('text')` does not compile.
 * A pino logger is assignable to it.
 */
export interface Logger {
  readonly level: string;
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  fatal: LogMethod;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
}

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

/** Field names whose values are secrets wherever they appear (one level deep, and in request headers). */
const SECRET_FIELDS = ['password', 'token', 'authorization', 'secret', 'api_key'];
const SECRET_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'headers.authorization',
  'req.headers.authorization',
];

/**
 * Builds the pino logger every program uses. Secrets never reach a line: fields named like
 * secrets are censored by path; every string (message, field, binding) has URL passwords, bearer
 * tokens and `token=` pairs masked; every Error, wherever it sits, goes through `serializeError`
 * (message, stack, cause and own fields redacted).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && options.destination === undefined);
  const base = {
    level: options.level ?? 'info',
    redact: { paths: SECRET_PATHS, censor: '***' },
    serializers: { err: serializeError },
    hooks: {
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        // pino would take a bare Error's message as the line's message unredacted: make it { err } first.
        const [first, ...rest] = args;
        const normalized =
          first instanceof Error && typeof rest[0] !== 'string' ? [{ err: first }, first.message, ...rest] : args;
        method.apply(
          this,
          normalized.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)),
        );
      },
    },
    formatters: {
      log: (object: Record<string, unknown>) => scrubValue(object) as Record<string, unknown>,
    },
  };
  const logger = pretty
    ? pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } })
    : options.destination
      ? pino(base, options.destination)
      : pino(base);
  scrubChildBindings(logger);
  return options.bindings ? logger.child(options.bindings) : logger;
}

/** pino serializes a child's bindings once, without `formatters`: redact them on the way in. */
function scrubChildBindings(logger: PinoLogger): PinoLogger {
  const child = logger.child.bind(logger);
  logger.child = ((bindings: Record<string, unknown>, childOptions?: ChildLoggerOptions) =>
    scrubChildBindings(
      child(scrubValue(bindings) as Record<string, unknown>, childOptions),
    )) as unknown as PinoLogger['child'];
  return logger;
}
