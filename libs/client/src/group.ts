import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { CanvasError } from './canvas-errors.js';
import { type CanvasApp, canvasAppOf, sendCanvas } from './canvas-send.js';
import { groupSignature } from './canvas-shapes.js';
import { GroupResult } from './group-result.js';

/** Something a group or chord can hold: a signature, or a canvas object that turns into one. */
export type CanvasLike = Signature | { toSignature(): Signature };

/** The signature of a canvas member (a Group, Chord, Chain or plain signature). */
export function toSignature(item: CanvasLike): Signature {
  if (typeof (item as { toSignature?: unknown }).toSignature === 'function') {
    return (item as { toSignature(): Signature }).toSignature();
  }
  return item as Signature;
}

/** Options of a group or chord beyond Celery's apply options: the app to send through. */
export interface CanvasOptions {
  /** Needed only when no member was made by `task.s()`/`si()` of an app. */
  app?: CanvasApp;
}

/**
 * Celery's `group`: its members run in parallel, each a message whose `group` header is the group
 * id; `applyAsync()` resolves to a `GroupResult` whose `get()` lists their results in order.
 */
export class Group {
  readonly tasks: readonly Signature[];
  private readonly app: CanvasApp | undefined;

  constructor(tasks: readonly CanvasLike[], options: CanvasOptions = {}) {
    this.tasks = tasks.map(toSignature);
    this.app = options.app;
  }

  /** The group as a Celery signature (`celery.group`, `subtask_type: 'group'`), for nesting and for Python. */
  toSignature(): Signature {
    return groupSignature(this.tasks);
  }

  /**
   * Sends every member; `args` are prepended to each mutable member's args (as Celery's partial
   * args). `options.task_id` becomes the group id. `link`/`link_error` are refused as in Celery:
   * put them on the members, or use a chord.
   */
  async applyAsync(args: readonly unknown[] = [], options: ApplyOptions = {}): Promise<GroupResult> {
    if (options.link !== undefined) throw new CanvasError('Cannot add link to group: use a chord');
    if (options.link_error !== undefined) {
      throw new CanvasError('Cannot add link_error to group: do that on individual tasks');
    }
    const app = canvasAppOf(this.tasks, this.app);
    const { task_id, ...rest } = options;
    const sig = this.toSignature();
    if (task_id !== undefined) sig.options = { task_id };
    const result = await sendCanvas(app, sig, args, rest);
    if (!(result instanceof GroupResult)) throw new CanvasError('a group did not produce a GroupResult');
    return result;
  }

  /** `applyAsync(args)`. */
  delay(...args: unknown[]): Promise<GroupResult> {
    return this.applyAsync(args);
  }
}

/** `group(add.s(1, 1), add.s(2, 2))`, or `group([...], { app })`: call `.applyAsync()` to send it. */
export function group(tasks: readonly CanvasLike[], options?: CanvasOptions): Group;
export function group(...tasks: CanvasLike[]): Group;
export function group(...items: unknown[]): Group {
  if (Array.isArray(items[0]))
    return new Group(items[0] as CanvasLike[], (items[1] as CanvasOptions | undefined) ?? {});
  return new Group(items as CanvasLike[]);
}
