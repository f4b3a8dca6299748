import type { OutgoingTask } from '@celeriac/protocol';

/** A task function: sync or async, any arguments. */
// biome-ignore lint/suspicious/noExplicitAny: task functions take whatever the task declares
export type TaskFn = (...args: any[]) => unknown;

/** The task options the worker reads (the client's `TaskOptions`, plus annotations). */
export interface WorkerTaskOptions {
  rate_limit?: string | number | null;
  acks_late?: boolean;
  ignore_result?: boolean;
  max_retries?: number | null;
  default_retry_delay?: number;
  time_limit?: number | null;
  soft_time_limit?: number | null;
  params?: string[];
  bind?: boolean;
  autoretry_for?: string[];
  retry_backoff?: boolean | number;
  retry_backoff_max?: number;
  retry_jitter?: boolean;
  track_started?: boolean;
  [option: string]: unknown;
}

/** A registered task as the worker sees it (the client's `Task`). */
export interface WorkerTask {
  readonly name: string;
  readonly fn: TaskFn;
  readonly options: WorkerTaskOptions;
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
  /** Task options merged with `task_annotations`; optional, the worker merges them itself otherwise. */
  taskOptions?(name: string): WorkerTaskOptions;
  routeFor(name: string, options?: Record<string, unknown>): WorkerRoute;
  /** The client's publish path: retries, link callbacks and chain steps go out through it. */
  publish(outgoing: OutgoingTask): Promise<unknown>;
}
