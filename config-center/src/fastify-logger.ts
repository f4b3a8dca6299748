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
 * The center's logger in the shape fastify wants: every line fastify writes gets `event:
 * "center.http"` (unless it carries one) and snake_case field names, like the center's own lines.
 */
export function fastifyLogger(logger: Logger): FastifyBaseLogger {
  const adapter: Record<string, unknown> = {
    child: (bindings: Record<string, unknown>) =>
      fastifyLogger(logger.child(snakeKeys(bindings) as Record<string, unknown>)),
    silent: () => undefined,
  };
  for (const level of LEVELS) {
    adapter[level] = (...args: unknown[]) => {
      const [fields, message] = toCall(args);
      logger[level](fields, message);
    };
  }
  Object.defineProperty(adapter, 'level', {
    get: () => logger.level,
    // fastify may lower the level of one route's child logger; the center never asks it to.
    set: () => undefined,
    enumerable: true,
  });
  return adapter as unknown as FastifyBaseLogger;
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
