import { AsyncLocalStorage } from 'node:async_hooks';

/** The task a worker is running, as seen by the code it calls (Celery's `app.current_worker_task`). */
export interface CurrentTask {
  readonly id: string;
  readonly rootId: string | null;
  /** The priority its message was delivered with (Celery's `request.delivery_info['priority']`). */
  readonly priority: number;
}

const scope = new AsyncLocalStorage<CurrentTask>();

/**
 * Runs a task's function with `task` as the current task: what it sends (`delay`, `applyAsync`,
 * `sendTask`) gets its `parent_id` and `root_id`, and its priority under
 * `task_inherit_parent_priority`, as Celery's `send_task` does. Called by the worker.
 */
export function runAsCurrentTask<T>(task: CurrentTask, fn: () => T): T {
  return scope.run(task, fn);
}

/** The task running in this async context, or undefined outside tasks. */
export function currentTask(): CurrentTask | undefined {
  return scope.getStore();
}
