import {
  DOCUMENT_SERIALIZER,
  type ResultDocument,
  resultSerializerOf,
  type Serializer,
  SerializerUnsupportedError,
  type TaskMessage,
} from '@celeriac/protocol';
import { WorkerError } from './errors.js';

/**
 * The worker's `result_serializer`: `json` (default) or `msgpack`. pickle, yaml or anything else
 * stops the worker at start with `WORKER_BAD_SETTING`, instead of storing JSON that a client set
 * up for another serializer cannot read.
 */
export function resultSerializerSetting(settings: Readonly<Record<string, unknown>>): Serializer {
  try {
    return resultSerializerOf(settings.result_serializer);
  } catch (error) {
    if (!(error instanceof SerializerUnsupportedError)) throw error;
    throw new WorkerError('WORKER_BAD_SETTING', error.message);
  }
}

/** Marks a document to be stored in `serializer` by the result backend (see `DOCUMENT_SERIALIZER`). */
export function storeAs(doc: ResultDocument, serializer: Serializer): ResultDocument {
  doc[DOCUMENT_SERIALIZER] = serializer;
  return doc;
}

/** The `result` and `traceback` of a result document. */
export interface Outcome {
  result: unknown;
  traceback: string | null;
}

/**
 * A `celery-task-meta-<id>` document in Celery's key order: group_id, parent_id, then (with
 * `result_extended`, `worker` = `extendedWorker`) the extended fields, task_id last.
 */
export function resultDocument(
  m: TaskMessage,
  status: string,
  outcome: Outcome,
  children: unknown[],
  dateDone: string | null,
  extendedWorker: string | null,
): ResultDocument {
  if (m.groupId === null && m.parentId === null && extendedWorker === null) {
    return {
      status,
      result: outcome.result,
      traceback: outcome.traceback,
      children,
      date_done: dateDone,
      task_id: m.id,
    };
  }
  const doc = {
    status,
    result: outcome.result,
    traceback: outcome.traceback,
    children,
    date_done: dateDone,
  } as ResultDocument;
  if (m.groupId !== null) doc.group_id = m.groupId;
  if (m.parentId !== null) doc.parent_id = m.parentId;
  if (extendedWorker !== null) {
    doc.name = m.task;
    doc.args = m.args;
    doc.kwargs = m.kwargs;
    doc.worker = extendedWorker;
    doc.retries = m.retries;
    doc.queue = m.routingKey || null;
  }
  doc.task_id = m.id;
  return doc;
}
