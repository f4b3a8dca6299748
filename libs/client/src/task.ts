import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import type { AsyncResult } from './async-result.js';
import { type Chunks, chunks, type MapSignature, xmap, xstarmap } from './canvas-map.js';
import type { ChainSender } from './chain.js';
import { bindSignature, signature } from './signature.js';
import type { TaskFn, TaskOptions } from './task-options.js';

/**
 * What a `Task` needs from its app to be sent (the `Celeriac` app is one). Its signatures are
 * bound to the same sender, so `chain(add.s(1), ...).applyAsync()` knows where to publish.
 */
export interface TaskSender extends ChainSender {
  /** Sends one call of the registered task `name`: its own options and `task_annotations` apply. */
  applyTask(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options?: ApplyOptions,
  ): Promise<AsyncResult>;
  /** Sends one message of the registered task `name` per args list, streamed to Redis in chunks. */
  applyTaskMany(name: string, argsList: readonly unknown[][], options?: ApplyOptions): Promise<AsyncResult[]>;
}

/** A registered task: call it remotely with `delay`/`applyAsync`, or build signatures with `s`/`si`. */
export class Task<F extends TaskFn = TaskFn> {
  readonly name: string;
  readonly fn: F;
  /** The options given to `app.task()` (without `task_annotations`; see `app.taskOptions(name)`). */
  readonly options: Readonly<TaskOptions>;
  /** Where the task is sent through: the app that registered it. */
  readonly sender: TaskSender;

  constructor(sender: TaskSender, name: string, fn: F, options: TaskOptions = {}) {
    this.sender = sender;
    this.name = name;
    this.fn = fn;
    this.options = Object.freeze({ ...options });
  }

  /** Sends the task with positional arguments. */
  delay(...args: unknown[]): Promise<AsyncResult> {
    return this.sender.applyTask(this.name, args, {});
  }

  /** Sends the task with args, kwargs and options (queue, countdown, eta, expires, priority, ...). */
  applyAsync(
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult> {
    return this.sender.applyTask(this.name, args, kwargs, options);
  }

  /** Sends one message per args list, all in one round trip. */
  applyMany(argsList: readonly unknown[][], options: ApplyOptions = {}): Promise<AsyncResult[]> {
    return this.sender.applyTaskMany(this.name, argsList, options);
  }

  /** A signature of this task with partial args (a chain step gets the previous result prepended). */
  s(...args: unknown[]): Signature {
    return bindSignature(signature(this.name, args), this.sender);
  }

  /** An immutable signature: the previous result is not prepended. */
  si(...args: unknown[]): Signature {
    return bindSignature(signature(this.name, args, {}, {}, true), this.sender);
  }

  /** Celery's `task.map(it)`: one `celery.map` message calling this task with each item in a worker. */
  map(it: Iterable<unknown>): MapSignature {
    return xmap(this, it);
  }

  /** Celery's `task.starmap(it)`: one `celery.starmap` message calling this task with each args list. */
  starmap(it: Iterable<readonly unknown[]>): MapSignature {
    return xstarmap(this, it);
  }

  /** Celery's `task.chunks(it, n)`: a group of `celery.starmap` messages of `n` args lists each. */
  chunks(it: Iterable<readonly unknown[]>, n: number): Chunks {
    return chunks(this, it, n);
  }

  /** Runs the function here, in this process (as calling a Celery task object does). */
  call(...args: Parameters<F>): ReturnType<F> {
    return this.fn(...args) as ReturnType<F>;
  }
}
