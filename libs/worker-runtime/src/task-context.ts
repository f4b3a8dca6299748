import type { ResultDocument } from '@celeriac/protocol';
import { Retry } from './celery-exceptions.js';

/** Options of `ctx.retry()`, as Celery's `self.retry()`. */
export interface RetryOptions {
  /** Seconds from now; defaults to the task's `default_retry_delay` (180). */
  countdown?: number;
  eta?: Date;
  /** The error to store with the RETRY state, and to raise when retries run out. */
  exc?: unknown;
  max_retries?: number | null;
}

/** What a `bind: true` task gets as its first argument. */
export interface TaskContext {
  readonly id: string;
  readonly name: string;
  readonly retries: number;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly hostname: string;
  readonly eta: Date | null;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly groupId: string | null;
  /** Aborted at the soft time limit (reason: SoftTimeLimitExceeded) and at the hard limit. */
  readonly signal: AbortSignal;
  /** Throws a `Retry`: the worker republishes the task (`throw ctx.retry()` reads well too). */
  retry(options?: RetryOptions): never;
  /** Stores a custom state (e.g. PROGRESS) with `meta` as its result. */
  updateState(state: string, meta?: unknown): Promise<void>;
}

/** Fields a context is built from. */
export interface TaskContextInit {
  id: string;
  name: string;
  retries: number;
  args: unknown[];
  kwargs: Record<string, unknown>;
  hostname: string;
  eta: Date | null;
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  store(doc: ResultDocument): Promise<void>;
}

/** The executor's `TaskContext`; its AbortController is created only when a task reads `signal`. */
export class RuntimeTaskContext implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly retries: number;
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  readonly hostname: string;
  readonly eta: Date | null;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly groupId: string | null;
  private controller: AbortController | null = null;
  private pendingReason: unknown;
  private readonly store: (doc: ResultDocument) => Promise<void>;

  constructor(init: TaskContextInit) {
    this.id = init.id;
    this.name = init.name;
    this.retries = init.retries;
    this.args = init.args;
    this.kwargs = init.kwargs;
    this.hostname = init.hostname;
    this.eta = init.eta;
    this.rootId = init.rootId;
    this.parentId = init.parentId;
    this.groupId = init.groupId;
    this.store = init.store;
  }

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.pendingReason !== undefined) this.controller.abort(this.pendingReason);
    }
    return this.controller.signal;
  }

  /** Aborts `signal` with `reason` (once). */
  abort(reason: unknown): void {
    if (this.controller === null) {
      if (this.pendingReason === undefined) this.pendingReason = reason;
    } else if (!this.controller.signal.aborted) {
      this.controller.abort(reason);
    }
  }

  /** The reason the signal was aborted with, if it was. */
  get abortReason(): unknown {
    return this.controller?.signal.aborted ? this.controller.signal.reason : this.pendingReason;
  }

  retry(options: RetryOptions = {}): never {
    throw new Retry({
      countdownSec: options.eta ? null : (options.countdown ?? null),
      eta: options.eta ?? null,
      exc: options.exc,
      maxRetries: options.max_retries,
    });
  }

  updateState(state: string, meta?: unknown): Promise<void> {
    return this.store({
      status: state,
      result: meta === undefined ? null : meta,
      traceback: null,
      children: [],
      date_done: null,
      task_id: this.id,
    });
  }
}
