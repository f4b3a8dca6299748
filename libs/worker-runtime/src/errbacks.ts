import { randomUUID } from 'node:crypto';
import { asSignature } from '@celeriac/client';
import type { Signature, TaskMessage } from '@celeriac/protocol';
import type { WorkerCanvas } from './worker-canvas.js';

/**
 * The `request` a Celery-5 errback gets (Celery's task `Context`, as plain fields): the failed
 * task's id, name, args, kwargs, ids of its workflow and delivery.
 */
export interface ErrbackRequest {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  root_id: string | null;
  parent_id: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  eta: string | null;
  expires: string | null;
  hostname: string | null;
  correlation_id: string;
  reply_to: string | null;
  delivery_info: { exchange: string; routing_key: string; priority: number; redelivered: boolean };
  chord: Signature | null;
  callbacks: Signature[] | null;
  errbacks: Signature[] | null;
  chain: Signature[] | null;
  ignore_result: boolean;
  timelimit: [number | null, number | null];
  origin: string | null;
}

/** The errback request of a failed task. */
export function errbackRequest(m: TaskMessage, hostname: string | null): ErrbackRequest {
  return {
    id: m.id,
    task: m.task,
    args: m.args,
    kwargs: m.kwargs,
    root_id: m.rootId,
    parent_id: m.parentId,
    group: m.groupId,
    group_index: m.groupIndex,
    retries: m.retries,
    eta: m.eta ? m.eta.toISOString() : null,
    expires: m.expires ? m.expires.toISOString() : null,
    hostname,
    correlation_id: m.id,
    reply_to: m.replyTo,
    delivery_info: {
      exchange: m.exchange,
      routing_key: m.routingKey,
      priority: m.priority,
      redelivered: m.redelivered,
    },
    chord: m.embed.chord,
    callbacks: m.embed.callbacks,
    errbacks: m.embed.errbacks,
    chain: m.embed.chain,
    ignore_result: m.ignoreResult,
    timelimit: m.timelimit,
    origin: typeof m.headers.origin === 'string' ? m.headers.origin : null,
  };
}

/** The errback request Celery fakes for a chord body that cannot run (`chord_error_from_stack`). */
export function chordErrbackRequest(callback: Signature, rootId: string | null): ErrbackRequest {
  const id = typeof callback.options.task_id === 'string' ? callback.options.task_id : '';
  return {
    id,
    task: callback.task,
    args: callback.args,
    kwargs: callback.kwargs,
    root_id: rootId,
    parent_id: null,
    group: null,
    group_index: null,
    retries: 0,
    eta: null,
    expires: null,
    hostname: null,
    correlation_id: id,
    reply_to: null,
    delivery_info: { exchange: '', routing_key: '', priority: 0, redelivered: false },
    chord: null,
    callbacks: null,
    errbacks: null,
    chain: null,
    ignore_result: false,
    timelimit: [null, null],
    origin: null,
  };
}

/** Number of declared parameters of a task function (its `params` when given): Celery's `arity_greater(fn, 1)`. */
function arity(task: { fn: (...args: never[]) => unknown; options: { params?: readonly string[] } }): number {
  const params = task.options.params;
  return Array.isArray(params) && params.length > 0 ? params.length : task.fn.length;
}

/**
 * Calls a failed task's errbacks as Celery 5.2's `_call_task_errbacks` does. An errback task
 * registered in this worker whose function takes more than one parameter (and is not `bind`) is
 * called here, in this process, as `fn(request, exc, traceback, ...sig.args)` — that is what
 * Celery does: no message carries `(request, exc, traceback)`. Every other errback (one
 * parameter, `bind`, or a task this worker does not have, e.g. a Python one) is sent old-style,
 * as a group of messages whose args are `[task_id, ...sig.args]`, parent and root the failed task's.
 * Errors of an errback are logged, never thrown.
 */
export async function callErrbacks(
  canvas: WorkerCanvas,
  errbacks: readonly unknown[],
  request: ErrbackRequest,
  exc: unknown,
  traceback: string | null,
): Promise<void> {
  const oldStyle: Signature[] = [];
  for (const raw of errbacks) {
    let sig: Signature;
    try {
      sig = asSignature(raw);
    } catch (error) {
      canvas.logger.error(
        { event: 'worker.errback_invalid', task_id: request.id, err: error },
        'An errback of this task is not a signature; skipped',
      );
      continue;
    }
    const task = canvas.app.tasks.get(sig.task);
    if (task !== undefined && task.options.bind !== true && arity(task) > 1) {
      try {
        const extra = Object.keys(sig.kwargs).length > 0 ? [sig.kwargs] : [];
        await task.fn(request, exc, traceback, ...sig.args, ...extra);
        canvas.logger.info(
          { event: 'worker.errback_called', task_id: request.id, errback: sig.task },
          'Errback called in this worker with (request, exc, traceback)',
        );
      } catch (error) {
        canvas.logger.error(
          { event: 'worker.errback_failed', task_id: request.id, errback: sig.task, err: error },
          'An errback raised; the failure of the task stands',
        );
      }
    } else {
      oldStyle.push(sig);
    }
  }
  if (oldStyle.length === 0) return;
  const group: Signature = {
    task: 'celery.group',
    args: [],
    kwargs: { tasks: oldStyle },
    options: { task_id: randomUUID() },
    subtask_type: 'group',
    immutable: false,
  };
  try {
    await canvas.apply(group, [request.id], { id: request.id, rootId: request.root_id ?? request.id });
  } catch (error) {
    canvas.logger.error(
      { event: 'worker.follow_up_failed', task_id: request.id, follow_up: 'errbacks', err: error },
      'Could not publish the errbacks of this task',
    );
  }
}
