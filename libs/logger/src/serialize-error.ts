import { redactSecrets } from './redact.js';

/** An Error as it appears in a log line: type, message, stack, code, cause chain and own fields, all redacted. */
export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  [field: string]: unknown;
}

const MAX_DEPTH = 8;

/**
 * The `err` serializer of every logger: turns an Error (and its `cause` chain, `AggregateError`
 * members and own enumerable fields) into plain data with every secret redacted, so that
 * `log.error({ err })` can never print a password from a URL in a message or a stack.
 */
export function serializeError(error: unknown): unknown {
  return error instanceof Error ? errorToData(error, 0, new WeakSet()) : scrubValue(error, 0, new WeakSet());
}

/** Copies `value` with every string redacted and every Error serialized; cycles and depth are bounded. */
export function scrubValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  if (value instanceof Error) return errorToData(value, depth, seen);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1, seen));
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

function errorToData(error: Error, depth: number, seen: WeakSet<object>): SerializedError | string {
  if (seen.has(error)) return '[Circular]';
  seen.add(error);
  try {
    const out: SerializedError = {
      type: error.name || error.constructor?.name || 'Error',
      message: redactSecrets(String(error.message)),
    };
    if (typeof error.stack === 'string') out.stack = redactSecrets(error.stack);
    for (const [k, v] of Object.entries(error)) {
      if (k !== 'message' && k !== 'stack') out[k] = scrubValue(v, depth + 1, seen);
    }
    if (error.cause !== undefined) out.cause = scrubValue(error.cause, depth + 1, seen);
    if (error instanceof AggregateError) out.errors = scrubValue(error.errors, depth + 1, seen);
    return out;
  } finally {
    seen.delete(error);
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
