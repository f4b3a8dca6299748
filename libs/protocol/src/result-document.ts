import { formatNaiveUtc } from './celery-date.js';
import { ProtocolEncodeError, ResultDecodeError } from './errors.js';

/** Celery task states; custom states (e.g. `PROGRESS`) are any other string. */
export type TaskState = 'PENDING' | 'STARTED' | 'SUCCESS' | 'FAILURE' | 'RETRY' | 'REVOKED' | (string & {});

/** States after which a task will not change any more (Celery's READY_STATES). */
export const READY_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/**
 * Set on a document (as a symbol: never stored, never part of its JSON or msgpack) to make the
 * result backend store it in this serializer instead of the backend's own (`result_serializer`).
 */
export const DOCUMENT_SERIALIZER: unique symbol = Symbol.for('celeriac.result_serializer');

/** The value stored under `celery-task-meta-<id>`. */
export interface ResultDocument {
  [DOCUMENT_SERIALIZER]?: 'json' | 'msgpack';
  status: TaskState;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  date_done: string | null;
  task_id: string;
  parent_id?: string | null;
  group_id?: string | null;
  [extended: string]: unknown;
}

/** Fields `result_extended=True` adds, in Celery's order. */
export interface ExtendedResultFields {
  name?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  worker?: string;
  retries?: number;
  queue?: string;
}

/** Input of buildResultDocument. */
export interface ResultInput {
  taskId: string;
  status: TaskState;
  result?: unknown;
  traceback?: string | null;
  children?: unknown[];
  /** Completion time for ready states; defaults to now. Ignored (null) for non-ready states. */
  dateDone?: Date;
  parentId?: string | null;
  groupId?: string | null;
  extended?: ExtendedResultFields;
}

/**
 * A result document with Celery's key order: status, result, traceback, children, date_done,
 * parent_id / group_id when set, extended fields, task_id. `date_done` is naive UTC for
 * SUCCESS/FAILURE/REVOKED and null otherwise.
 */
export function buildResultDocument(input: ResultInput): ResultDocument {
  const doc: Record<string, unknown> = {
    status: input.status,
    result: input.result === undefined ? null : input.result,
    traceback: input.traceback ?? null,
    children: input.children ?? [],
    date_done: READY_STATES.has(input.status) ? formatNaiveUtc(input.dateDone ?? new Date()) : null,
  };
  if (input.parentId) doc.parent_id = input.parentId;
  if (input.groupId) doc.group_id = input.groupId;
  const ext = input.extended;
  if (ext !== undefined) {
    doc.name = ext.name ?? null;
    doc.args = ext.args ?? null;
    doc.kwargs = ext.kwargs ?? null;
    doc.worker = ext.worker ?? null;
    doc.retries = ext.retries ?? 0;
    doc.queue = ext.queue ?? null;
  }
  doc.task_id = input.taskId;
  return doc as ResultDocument;
}

const KEY_TEXT = new Map<string, string>();
const MAX_KEY_TEXTS = 256;

/** `"key": ` for a document key; the few keys a worker writes are computed once. */
function keyText(key: string): string {
  let text = KEY_TEXT.get(key);
  if (text === undefined) {
    text = `${JSON.stringify(key)}: `;
    if (KEY_TEXT.size < MAX_KEY_TEXTS) KEY_TEXT.set(key, text);
  }
  return text;
}

/** JSON text of a result document, as stored and published (Python's `", "` / `": "` separators at the top). */
export function encodeResult(doc: ResultDocument): string {
  let out = '{';
  for (const key in doc) {
    if (!Object.hasOwn(doc, key)) continue;
    const value = doc[key];
    if (value === undefined) continue;
    let json: string | undefined;
    if (typeof value === 'string') json = JSON.stringify(value);
    else if (value === null) json = 'null';
    else {
      try {
        json = JSON.stringify(value);
      } catch (err) {
        throw new ProtocolEncodeError(
          `result field ${key} of task ${doc.task_id} cannot be stored as JSON: ${(err as Error).message}`,
        );
      }
      if (json === undefined) json = 'null';
    }
    out += out.length === 1 ? keyText(key) + json : `, ${keyText(key)}${json}`;
  }
  return `${out}}`;
}

/**
 * Parses a stored JSON result value. Fills what a minimal foreign writer may leave out (traceback,
 * children, date_done, task_id from `taskId`). Throws ResultDecodeError when it is not a result.
 */
export function decodeResultDocument(raw: string, taskId?: string): ResultDocument {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ResultDecodeError(`stored result${ofTask(taskId)} is not valid JSON`);
  }
  return toResultDocument(value, 'a JSON object', taskId);
}

function ofTask(taskId: string | undefined): string {
  return taskId ? ` of task ${taskId}` : '';
}

/** Checks a decoded value is a result document (an object with a string status) and fills the gaps. */
export function toResultDocument(value: unknown, format: string, taskId?: string): ResultDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw new ResultDecodeError(`stored result${ofTask(taskId)} is not ${format}`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v.status !== 'string') {
    throw new ResultDecodeError(`stored result${ofTask(taskId)} has no string "status"`);
  }
  return {
    ...v,
    status: v.status,
    result: v.result === undefined ? null : v.result,
    traceback: typeof v.traceback === 'string' ? v.traceback : null,
    children: Array.isArray(v.children) ? v.children : [],
    date_done: typeof v.date_done === 'string' ? v.date_done : null,
    task_id: typeof v.task_id === 'string' ? v.task_id : (taskId ?? ''),
  };
}
