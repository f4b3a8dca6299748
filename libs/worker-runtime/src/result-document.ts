import type { ResultDocument, TaskMessage } from '@celeriac/protocol';

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
