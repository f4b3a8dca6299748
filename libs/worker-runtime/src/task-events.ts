import type { EventDispatcher } from '@celeriac/control-plane';
import { pyRepr, pyReprTuple, type TaskMessage } from '@celeriac/protocol';
import { CeleryException } from './celery-exceptions.js';

/** Python's `repr()` of a thrown value, as Celery's task events carry it: `ValueError('bad value', 42)`. */
export function exceptionRepr(error: unknown): string {
  if (!(error instanceof Error)) return `Exception(${pyRepr(String(error))})`;
  const name = error.name && error.name !== 'Error' ? error.name : error.constructor.name || 'Error';
  const own = (error as { args?: unknown }).args;
  const args = error instanceof CeleryException ? error.excArgs : Array.isArray(own) ? own : [error.message];
  return `${name}(${args.map((a) => pyRepr(a)).join(', ')})`;
}

function headerString(headers: Record<string, unknown>, name: string): string | null {
  const value = headers[name];
  return typeof value === 'string' ? value : null;
}

/**
 * The task events of celery/worker/request.py and strategy.py, sent through the worker's
 * EventDispatcher (batched into `task.multi`). Call sites check `on` first, so with task events off
 * a task costs one boolean read per site and nothing is built.
 */
export class TaskEvents {
  constructor(private readonly dispatcher: EventDispatcher | null) {}

  /** Whether task events are being sent now (`-E`, `worker_send_task_events`, `enable_events`). */
  get on(): boolean {
    return this.dispatcher?.taskEventsEnabled === true;
  }

  /** The worker accepted the message (it will wait or run). */
  received(m: TaskMessage): void {
    const h = m.headers;
    this.dispatcher?.taskReceived(
      m.id,
      m.task,
      headerString(h, 'argsrepr') ?? pyReprTuple(m.args),
      headerString(h, 'kwargsrepr') ?? pyRepr(m.kwargs),
      m.rootId,
      m.parentId,
      m.retries,
      headerString(h, 'eta') ?? (m.eta === null ? null : m.eta.toISOString()),
      headerString(h, 'expires') ?? (m.expires === null ? null : m.expires.toISOString()),
    );
  }

  started(taskId: string): void {
    this.dispatcher?.taskStarted(taskId);
  }

  /** `runtimeSec`: from the start of the run to its result. */
  succeeded(taskId: string, result: unknown, runtimeSec: number): void {
    this.dispatcher?.taskSucceeded(taskId, result === null ? 'None' : pyRepr(result), runtimeSec);
  }

  failed(taskId: string, error: unknown): void {
    const traceback = error instanceof Error ? (error.stack ?? String(error)) : String(error);
    this.dispatcher?.sendTask('task-failed', { uuid: taskId, exception: exceptionRepr(error), traceback });
  }

  /** The task asked for a retry; `cause` is the Retry's `exc` (or the Retry itself). */
  retried(taskId: string, cause: unknown): void {
    const traceback = cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause);
    this.dispatcher?.sendTask('task-retried', { uuid: taskId, exception: exceptionRepr(cause), traceback });
  }

  /**
   * A message of a task this worker does not know: `task-failed` with `NotRegistered('<name>')` and
   * no traceback, what Celery's consumer sends (`on_unknown_task`), so monitors count it as a failure.
   */
  unknownTask(taskId: string, name: string): void {
    this.dispatcher?.sendTask('task-failed', { uuid: taskId, exception: `NotRegistered(${pyRepr(name)})` });
  }

  /** The message was rejected: dead-lettered (`requeue` false) or given back. */
  rejected(taskId: string, requeue: boolean): void {
    this.dispatcher?.sendTask('task-rejected', { uuid: taskId, requeue });
  }

  revoked(taskId: string, how: { terminated: boolean; signum: number | null; expired: boolean }): void {
    this.dispatcher?.sendTask('task-revoked', { uuid: taskId, ...how });
  }
}

/** Task events that go nowhere: for a worker without a control plane. */
export const NO_TASK_EVENTS = new TaskEvents(null);
