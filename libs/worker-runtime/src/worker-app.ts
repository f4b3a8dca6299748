import type { TaskFn, TaskOptions } from '@celeriac/client';
import type { OutgoingTask } from '@celeriac/protocol';

/** A task function: sync or async, any arguments (the client's `TaskFn`). */
export type { TaskFn };

/**
 * The task options the worker reads: the client's `TaskOptions`, one type for both sides (the
 * client validates them in `app.task()` and for `task_annotations`).
 */
export type WorkerTaskOptions = TaskOptions;

/** A registered task as the worker sees it (the client's `Task`). */
export interface WorkerTask {
  readonly name: string;
  readonly fn: TaskFn;
  readonly options: Readonly<WorkerTaskOptions>;
}

/** Where `app.routeFor` sends a task. */
export interface WorkerRoute {
  queue: string;
  routing_key?: string;
  priority?: number;
}

/**
 * The part of the client's `Celeriac` app that the worker uses. `Celeriac` satisfies it; keeping it
 * structural lets the runtime build and test without depending on the client's internals.
 */
export interface WorkerApp {
  readonly tasks: ReadonlyMap<string, WorkerTask>;
  readonly conf: { readonly settings: Record<string, unknown> };
  /**
   * A task's options with `task_annotations` applied in Celery's order (the client's
   * `app.taskOptions`). Required: the worker has no second way to merge annotations.
   */
  taskOptions(name: string): Readonly<WorkerTaskOptions>;
  routeFor(name: string, options?: Record<string, unknown>): WorkerRoute;
  /** The client's publish path: retries, link callbacks and chain steps go out through it. */
  publish(outgoing: OutgoingTask): Promise<unknown>;
}
