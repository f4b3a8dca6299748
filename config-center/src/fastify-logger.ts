import { format } from 'node:util';
import type { LogFields, Logger } from '@celeriac/logger';
import { type FastifyBaseLogger, LogController } from 'fastify';

/** The event of the lines fastify itself writes (its warnings, "Server listening at ..."). */
const FASTIFY_EVENT = 'center.http';
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]/g, '_')
    .toLowerCase();
}

/** Plain-object keys in snake_case, a few levels down (fastify writes `statusCode`, `remoteAddress`). */
function snakeKeys(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Error || depth > 3) {
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[snakeCase(key)] = key === 'err' ? item : snakeKeys(item, depth + 1);
  }
  return out;
}

/** Reads pino-style arguments (`(fields, msg)`, `(msg, ...args)`, `(err, msg)`) into one log call. */
function toCall(args: unknown[]): [LogFields, string | undefined] {
  const [first, ...rest] = args;
  if (typeof first === 'string') return [{ event: FASTIFY_EVENT }, format(first, ...rest)];
  const message = typeof rest[0] === 'string' ? format(...(rest as [string, ...unknown[]])) : undefined;
  if (first instanceof Error) return [{ event: FASTIFY_EVENT, err: first }, message ?? first.message];
  const fields = (snakeKeys(first ?? {}) ?? {}) as Record<string, unknown>;
  const event = typeof fields.event === 'string' && fields.event.includes('.') ? fields.event : FASTIFY_EVENT;
  return [{ ...fields, event: event as LogFields['event'] }, message];
}

/**
 * A logger in the shape fastify wants, made cheap to create: fastify makes a child for every
 * request and most never write a line (routine long-polls), so a child keeps only its parent and
 * bindings (one object, no closures: ten thousand held polls hold one each) and makes its own
 * logger at its first line; the level methods live on the prototype.
 */
class FastifyLoggerAdapter {
  private resolved: Logger | undefined;

  constructor(
    /** The center's logger (the root adapter) or the adapter this one is a child of. */
    private readonly parent: Logger | FastifyLoggerAdapter,
    private readonly bindings: Record<string, unknown> | undefined,
  ) {}

  private target(): Logger {
    if (!this.resolved) {
      this.resolved =
        this.parent instanceof FastifyLoggerAdapter
          ? this.parent.target().child(snakeKeys(this.bindings ?? {}) as Record<string, unknown>)
          : this.parent;
    }
    return this.resolved;
  }

  get level(): string {
    if (this.resolved) return this.resolved.level;
    return this.parent instanceof FastifyLoggerAdapter ? this.parent.level : this.target().level;
  }

  // fastify may lower the level of one route's child logger; the center never asks it to.
  set level(_level: string) {}

  child(bindings: Record<string, unknown>): FastifyLoggerAdapter {
    return new FastifyLoggerAdapter(this, bindings);
  }

  silent(): void {}

  log(level: (typeof LEVELS)[number], args: unknown[]): void {
    const [fields, message] = toCall(args);
    this.target()[level](fields, message);
  }

  fatal(...args: unknown[]): void {
    this.log('fatal', args);
  }
  error(...args: unknown[]): void {
    this.log('error', args);
  }
  warn(...args: unknown[]): void {
    this.log('warn', args);
  }
  info(...args: unknown[]): void {
    this.log('info', args);
  }
  debug(...args: unknown[]): void {
    this.log('debug', args);
  }
  trace(...args: unknown[]): void {
    this.log('trace', args);
  }
}

/**
 * The center's logger in the shape fastify wants: every line fastify writes gets `event:
 * "center.http"` (unless it carries one) and snake_case field names, like the center's own lines.
 */
export function fastifyLogger(logger: Logger): FastifyBaseLogger {
  return new FastifyLoggerAdapter(logger, undefined) as unknown as FastifyBaseLogger;
}

/**
 * fastify's own request lines stay off (the center writes one `center.request` line per request);
 * the one it always writes, refusing a request while closing, gets an event too.
 */
export class CenterLogController extends LogController {
  constructor() {
    super({ disableRequestLogging: true, requestIdLogLabel: 'request_id' });
  }

  override serviceUnavailable(logger: FastifyBaseLogger): void {
    logger.info(
      { event: 'center.request_refused', status_code: 503 },
      'request refused: the center is closing; clients retry on another replica',
    );
  }
}
