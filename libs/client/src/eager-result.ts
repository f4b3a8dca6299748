import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { encodeExceptionResult, type ResultDocument, taskCallArguments } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult, type GetOptions, type ResultSource } from './async-result.js';
import { currentTask, runAsCurrentTask } from './current-task.js';
import { ApplyOptionsError } from './errors.js';
import type { TaskFn, TaskOptions } from './task-options.js';

/**
 * The result of a task run in this process under `task_always_eager` (Celery's `EagerResult`): it
 * is ready at once, nothing is read from or stored in the result backend, and `get()` of a failure
 * throws the task's own error (or returns it with `propagate: false`).
 */
export class EagerResult extends AsyncResult {
  private readonly error: unknown;

  private constructor(id: string, doc: ResultDocument, error: unknown) {
    const source: ResultSource = {
      get: async () => doc,
      waitFor: async () => doc,
    };
    super(id, () => source);
    this.error = error;
  }

  /** A ready result holding `doc` (and, for a FAILURE, the error thrown). */
  static async of(id: string, doc: ResultDocument, error: unknown = null): Promise<EagerResult> {
    const result = new EagerResult(id, doc, error);
    await result.refresh();
    return result;
  }

  /** The value, or the task's own error (thrown, or returned with `propagate: false`). */
  override async get(options: GetOptions = {}): Promise<unknown> {
    if (this.state !== 'FAILURE') return super.get(options);
    if (options.propagate ?? true) throw this.error;
    return this.error;
  }
}

/** One eager call: the task, its effective options and the call. */
export interface EagerCall {
  name: string;
  fn: TaskFn;
  own: Readonly<TaskOptions>;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: ApplyOptions;
  /** `task_eager_propagates`: a failure rejects the call itself instead of giving a FAILURE result. */
  propagate: boolean;
}

/**
 * Runs a registered task here and now, as Celery's `Task.apply` does under `task_always_eager`:
 * kwargs land on the declared `params`, a `bind` task gets a context (`ctx.retry()` is refused:
 * eager retries are not supported), countdown, eta, expires and time limits do not apply. Calls
 * with `link` / `link_error` are refused (`ApplyOptionsError`): callbacks are not run eagerly.
 */
export async function runEagerly(call: EagerCall): Promise<EagerResult> {
  const { options } = call;
  if (options.link !== undefined || options.link_error !== undefined) {
    throw new ApplyOptionsError(
      `task_always_eager: ${call.name} was called with link/link_error, which are not run eagerly; send it through the broker (task_always_eager: false)`,
    );
  }
  const id = options.task_id ?? randomUUID();
  const parent = currentTask();
  const rootId = options.root_id ?? parent?.rootId ?? parent?.id ?? id;
  const parentId = options.parent_id ?? parent?.id ?? null;
  const doc = (status: 'SUCCESS' | 'FAILURE', result: unknown, traceback: string | null): ResultDocument => ({
    status,
    result,
    traceback,
    children: [],
    date_done: new Date().toISOString(),
    task_id: id,
  });
  try {
    // The worker's argument mapping (kwargs onto `params`; without them, one extra last argument).
    const params = call.own.params !== undefined && call.own.params.length > 0 ? call.own.params : null;
    let args = taskCallArguments(call.name, params, call.args, call.kwargs);
    if (call.own.bind === true) args = [eagerContext(id, call, rootId, parentId), ...args];
    const fnArgs = args;
    const value = await runAsCurrentTask({ id, rootId, priority: options.priority ?? 0 }, () => call.fn(...fnArgs));
    return await EagerResult.of(id, doc('SUCCESS', value === undefined ? null : value, null));
  } catch (error) {
    if (call.propagate) throw error;
    const encoded = encodeExceptionResult(error);
    return await EagerResult.of(id, doc('FAILURE', encoded.result, encoded.traceback), error);
  }
}

/** The `ctx` of a `bind` task run eagerly: the worker's TaskContext fields; updateState stores nothing. */
function eagerContext(id: string, call: EagerCall, rootId: string, parentId: string | null): Record<string, unknown> {
  return {
    id,
    name: call.name,
    retries: 0,
    args: call.args,
    kwargs: call.kwargs,
    hostname: hostname(),
    eta: null,
    rootId,
    parentId,
    groupId: null,
    signal: new AbortController().signal,
    retry(): never {
      throw new ApplyOptionsError(`task_always_eager: ${call.name} called ctx.retry(), which is not run eagerly`);
    },
    updateState: async () => undefined,
  };
}
