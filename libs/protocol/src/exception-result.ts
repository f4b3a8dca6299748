import type { ProtocolErrorCode } from './errors.js';
import { pyRepr } from './py-repr.js';
import type { ResultDocument } from './result-document.js';

/** `exc_module` for errors Python cannot import: the reader synthesizes a class of that name. */
export const FOREIGN_EXC_MODULE = 'celeriac.js';

/** Python's built-in exception names; a JS error with one of these names is sent as `builtins.<name>`. */
const PYTHON_BUILTINS = new Set([
  'BaseException',
  'Exception',
  'ArithmeticError',
  'AssertionError',
  'AttributeError',
  'BlockingIOError',
  'BrokenPipeError',
  'BufferError',
  'ConnectionAbortedError',
  'ConnectionError',
  'ConnectionRefusedError',
  'ConnectionResetError',
  'EOFError',
  'FileExistsError',
  'FileNotFoundError',
  'FloatingPointError',
  'ImportError',
  'IndexError',
  'InterruptedError',
  'IsADirectoryError',
  'KeyError',
  'LookupError',
  'MemoryError',
  'ModuleNotFoundError',
  'NameError',
  'NotADirectoryError',
  'NotImplementedError',
  'OSError',
  'OverflowError',
  'PermissionError',
  'ProcessLookupError',
  'RecursionError',
  'ReferenceError',
  'RuntimeError',
  'StopIteration',
  'SyntaxError',
  'SystemError',
  'TimeoutError',
  'TypeError',
  'UnicodeDecodeError',
  'UnicodeEncodeError',
  'UnicodeError',
  'ValueError',
  'ZeroDivisionError',
]);

/**
 * JS built-in error classes mapped to the closest Python builtin. `Error` becomes `Exception`,
 * `RangeError`/`URIError` become `ValueError`, a JS `ReferenceError` ("x is not defined") is Python's
 * `NameError`, `EvalError`/`AggregateError` become `RuntimeError`. `TypeError`, `SyntaxError`
 * keep their names (Python has them too).
 */
const JS_TO_PYTHON: Record<string, string> = {
  Error: 'Exception',
  RangeError: 'ValueError',
  URIError: 'ValueError',
  ReferenceError: 'NameError',
  EvalError: 'RuntimeError',
  AggregateError: 'RuntimeError',
};

/** Celery's own exceptions, importable from `celery.exceptions` on the Python side. */
const CELERY_EXCEPTIONS = new Set([
  'TaskRevokedError',
  'TimeLimitExceeded',
  'SoftTimeLimitExceeded',
  'NotRegistered',
  'MaxRetriesExceededError',
  'Retry',
  'Reject',
  'Ignore',
  'WorkerLostError',
  'TaskError',
  'QueueNotFound',
  'ImproperlyConfigured',
  'InvalidTaskError',
  'ChordError',
]);

/** The `result` and `traceback` of a FAILURE document. */
export interface ExceptionResult {
  result: { exc_type: string; exc_message: unknown[]; exc_module: string };
  traceback: string;
}

function jsonSafe(v: unknown): unknown {
  try {
    const json = JSON.stringify(v);
    return json === undefined ? String(v) : JSON.parse(json);
  } catch {
    return String(v);
  }
}

function classify(err: unknown): { type: string; module: string } {
  if (!(err instanceof Error)) return { type: 'Exception', module: 'builtins' };
  const e = err as Error & { excModule?: unknown; exc_module?: unknown };
  const name = err.name && err.name !== 'Error' ? err.name : (err.constructor?.name ?? 'Error');
  const explicit =
    typeof e.excModule === 'string' ? e.excModule : typeof e.exc_module === 'string' ? e.exc_module : null;
  if (explicit) return { type: name, module: explicit };
  const mapped = JS_TO_PYTHON[name];
  if (mapped !== undefined) return { type: mapped, module: 'builtins' };
  if (PYTHON_BUILTINS.has(name)) return { type: name, module: 'builtins' };
  if (CELERY_EXCEPTIONS.has(name)) return { type: name, module: 'celery.exceptions' };
  return { type: name, module: FOREIGN_EXC_MODULE };
}

function excArgs(err: unknown): unknown[] {
  if (err instanceof Error) {
    const args = (err as Error & { args?: unknown }).args;
    if (Array.isArray(args)) return args.map(jsonSafe);
    return err.message === '' ? [] : [err.message];
  }
  if (err === undefined || err === null) return [];
  return [typeof err === 'string' ? err : jsonSafe(err)];
}

/** The last line of a Python traceback: `ValueError: msg`, `ValueError: ('a', 2)` or just `ValueError`. */
function excLine(type: string, args: unknown[]): string {
  if (args.length === 0) return type;
  if (args.length === 1) {
    const a = args[0];
    return `${type}: ${typeof a === 'string' ? a : pyRepr(a)}`;
  }
  return `${type}: ${pyRepr(args).replace(/^\[(.*)\]$/s, '($1)')}`;
}

const FRAME_RE = /^\s*at (?:(?:async )?(.*?) \((.*)\)|(.*))$/;
const LOCATION_RE = /^(.*):(\d+):\d+$/;

function frames(stack: string | undefined): string[] {
  if (!stack) return [];
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME_RE.exec(line);
    if (m === null) continue;
    const fn = m[1] ?? '<module>';
    let location = (m[2] ?? m[3] ?? '').trim();
    if (location.startsWith('file://')) location = location.slice(7);
    const loc = LOCATION_RE.exec(location);
    out.push(loc === null ? `  File "${location}", in ${fn}` : `  File "${loc[1]}", line ${loc[2]}, in ${fn}`);
  }
  return out.reverse();
}

function formatTraceback(err: unknown, depth: number): string {
  const { type } = classify(err);
  const args = excArgs(err);
  let cause = '';
  const c = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (c instanceof Error && depth < 5) {
    cause = `${formatTraceback(c, depth + 1)}\nThe above exception was the direct cause of the following exception:\n\n`;
  }
  const stack = err instanceof Error ? frames(err.stack) : [];
  const head = stack.length > 0 ? `Traceback (most recent call last):\n${stack.join('\n')}\n` : '';
  return `${cause}${head}${excLine(type, args)}\n`;
}

/**
 * What a failed task stores: `{exc_type, exc_message, exc_module}` and the JS stack formatted like a
 * Python traceback, so a Python client's `get()` raises a sensible exception. See JS_TO_PYTHON for
 * how JS error classes map to Python builtins; unknown classes use `celeriac.js`, which Python
 * cannot import and turns into a synthesized exception class with the same name.
 */
export function encodeExceptionResult(err: unknown): ExceptionResult {
  const { type, module } = classify(err);
  return {
    result: { exc_type: type, exc_message: excArgs(err), exc_module: module },
    traceback: formatTraceback(err, 0),
  };
}

/** The error `AsyncResult.get()` throws for a FAILURE (or REVOKED) result. */
export class RemoteTaskError extends Error {
  static readonly codes = ['PROTOCOL_REMOTE_TASK_FAILED'] as const;
  readonly code: ProtocolErrorCode = 'PROTOCOL_REMOTE_TASK_FAILED';
  /** Python exception class name, e.g. `ValueError`. */
  readonly excType: string;
  /** Python module of the class, e.g. `builtins`; null when the writer left it out. */
  readonly excModule: string | null;
  /** The exception's args. */
  readonly excMessage: unknown[];
  /** The remote traceback text, if stored. */
  readonly traceback: string | null;
  /** Id of the task that failed. */
  readonly taskId: string;
  constructor(init: {
    excType: string;
    excModule: string | null;
    excMessage: unknown[];
    traceback: string | null;
    taskId: string;
  }) {
    super(`${init.excType}(${init.excMessage.map((a) => pyRepr(a)).join(', ')})`);
    this.name = 'RemoteTaskError';
    this.excType = init.excType;
    this.excModule = init.excModule;
    this.excMessage = init.excMessage;
    this.traceback = init.traceback;
    this.taskId = init.taskId;
  }
}

/**
 * The RemoteTaskError for a stored FAILURE/REVOKED document; message like Python's repr,
 * e.g. `ValueError('bad value', 42)`. Tolerates a string `exc_message` and missing fields.
 */
export function exceptionFromResult(doc: ResultDocument): RemoteTaskError {
  const r = doc.result;
  let excType = 'Exception';
  let excModule: string | null = null;
  let excMessage: unknown[] = [];
  if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
    const o = r as Record<string, unknown>;
    if (typeof o.exc_type === 'string' && o.exc_type !== '') excType = o.exc_type;
    if (typeof o.exc_module === 'string') excModule = o.exc_module;
    const m = o.exc_message;
    excMessage = Array.isArray(m) ? m : m === undefined || m === null ? [] : [m];
  } else if (r !== null && r !== undefined) {
    excMessage = [r];
  }
  return new RemoteTaskError({
    excType,
    excModule,
    excMessage,
    traceback: typeof doc.traceback === 'string' ? doc.traceback : null,
    taskId: doc.task_id,
  });
}
