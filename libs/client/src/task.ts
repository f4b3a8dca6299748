import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import type { AsyncResult } from './async-result.js';
import type { Celeriac } from './celeriac.js';
import { bindSignature, signature } from './signature.js';
import type { TaskFn, TaskOptions } from './task-options.js';

/** A registered task: call it remotely with `delay`/`applyAsync`, or build signatures with `s`/`si`. */
export class Task<F extends TaskFn = TaskFn> {
  readonly name: string;
  readonly fn: F;
  readonly options: TaskOptions;
  readonly app: Celeriac;

  constructor(app: Celeriac, name: string, fn: F, options: TaskOptions = {}) {
    this.app = app;
    this.name = name;
    this.fn = fn;
    this.options = Object.freeze({ ...options });
  }

  /** Sends the task with positional arguments. */
  delay(...args: unknown[]): Promise<AsyncResult> {
    return this.app.applyTask(this.name, args, {}, undefined, true);
  }

  /** Sends the task with args, kwargs and options (queue, countdown, eta, expires, priority, ...). */
  applyAsync(
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult> {
    return this.app.applyTask(this.name, args, kwargs, options, true);
  }

  /** Sends one message per args list, all in one round trip. */
  applyMany(argsList: readonly unknown[][], options: ApplyOptions = {}): Promise<AsyncResult[]> {
    return this.app.applyTaskMany(this.name, argsList, options);
  }

  /** A signature of this task with partial args (a chain step gets the previous result prepended). */
  s(...args: unknown[]): Signature {
    return bindSignature(signature(this.name, args), this.app);
  }

  /** An immutable signature: the previous result is not prepended. */
  si(...args: unknown[]): Signature {
    return bindSignature(signature(this.name, args, {}, {}, true), this.app);
  }

  /** Runs the function here, in this process (as calling a Celery task object does). */
  call(...args: Parameters<F>): ReturnType<F> {
    return this.fn(...args) as ReturnType<F>;
  }
}
