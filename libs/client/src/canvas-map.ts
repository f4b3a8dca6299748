import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult } from './async-result.js';
import { CanvasError } from './canvas-errors.js';
import { chunkSignatures, mapSignature, starmapSignature } from './canvas-plan.js';
import { type CanvasApp, canvasAppOf, sendCanvas } from './canvas-send.js';
import { Group } from './group.js';
import type { GroupResult } from './group-result.js';
import { bindSignature, signatureOwner } from './signature.js';

/** A task (or its signature) to map over: what `celery.map`/`starmap` call in the worker, in order. */
export interface MapTarget {
  readonly name: string;
  readonly sender: unknown;
}

function targetSignature(task: MapTarget | Signature): { sig: Signature; owner: unknown } {
  if ('name' in task && typeof task.name === 'string') {
    const sig: Signature = { task: task.name, args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    return { sig, owner: (task as MapTarget).sender };
  }
  return { sig: task as Signature, owner: signatureOwner<unknown>(task as Signature) };
}

/**
 * One `celery.map` / `celery.starmap` message (Celery's `xmap`/`xstarmap`): a worker that has the
 * task calls it for each item in turn and stores the list of results. Routed as the task itself.
 */
export class MapSignature {
  readonly signature: Signature;
  private readonly app: CanvasApp | undefined;

  constructor(signature: Signature, app?: CanvasApp) {
    this.signature = signature;
    this.app = app;
  }

  /** Sends it; the result's value is the list of the task's results. */
  async applyAsync(options: ApplyOptions = {}): Promise<AsyncResult> {
    const result = await sendCanvas(canvasAppOf([this.signature], this.app), this.signature, [], options);
    if (!(result instanceof AsyncResult)) throw new CanvasError('a map did not produce an AsyncResult');
    return result;
  }

  /** `applyAsync()`. */
  delay(): Promise<AsyncResult> {
    return this.applyAsync();
  }

  /** The Celery signature (`celery.map`/`celery.starmap`), to nest in a chain, group or chord. */
  toSignature(): Signature {
    return this.signature;
  }
}

function bound(sig: Signature, owner: unknown): Signature {
  return owner !== undefined && owner !== null && typeof owner === 'object' ? bindSignature(sig, owner) : sig;
}

/** `add.map([1, 2, 3])`: one message running `add(1)`, `add(2)`, `add(3)` in a worker. */
export function xmap(
  task: MapTarget | Signature,
  it: Iterable<unknown>,
  options: { app?: CanvasApp } = {},
): MapSignature {
  const { sig, owner } = targetSignature(task);
  return new MapSignature(bound(mapSignature(sig, [...it]), owner), options.app ?? (owner as CanvasApp | undefined));
}

/** `add.starmap([[1, 2], [3, 4]])`: one message running `add(1, 2)`, `add(3, 4)` in a worker. */
export function xstarmap(
  task: MapTarget | Signature,
  it: Iterable<readonly unknown[]>,
  options: { app?: CanvasApp } = {},
): MapSignature {
  const { sig, owner } = targetSignature(task);
  return new MapSignature(
    bound(starmapSignature(sig, [...it]), owner),
    options.app ?? (owner as CanvasApp | undefined),
  );
}

/**
 * Celery's `chunks(task, it, n)`: `it` cut into parts of `n` argument lists, each a
 * `celery.starmap` message, sent as one group; `get()` gives one list per chunk.
 */
export class Chunks {
  readonly task: Signature;
  readonly it: readonly (readonly unknown[])[];
  readonly n: number;
  private readonly app: CanvasApp | undefined;

  constructor(task: Signature, it: readonly (readonly unknown[])[], n: number, app?: CanvasApp) {
    this.task = task;
    this.it = it;
    this.n = n;
    this.app = app;
    chunkSignatures(task, it, n);
  }

  /** The group of `celery.starmap` signatures it stands for. */
  group(): Group {
    const sigs = chunkSignatures(this.task, this.it, this.n);
    return this.app ? new Group(sigs, { app: this.app }) : new Group(sigs);
  }

  /** Sends the chunks as one group. */
  applyAsync(options: ApplyOptions = {}): Promise<GroupResult> {
    const app = this.app ?? canvasAppOf([this.task]);
    return new Group(chunkSignatures(this.task, this.it, this.n), { app }).applyAsync([], options);
  }

  /** `applyAsync()`. */
  delay(): Promise<GroupResult> {
    return this.applyAsync();
  }

  /** The Celery signature (`celery.chunks`, `subtask_type: 'chunks'`). */
  toSignature(): Signature {
    return {
      task: 'celery.chunks',
      args: [],
      kwargs: { task: this.task, it: this.it.map((a) => [...a]), n: this.n },
      options: {},
      subtask_type: 'chunks',
      immutable: true,
    };
  }
}

/** `add.chunks(zip(...), 10)`: see `Chunks`. */
export function chunks(
  task: MapTarget | Signature,
  it: Iterable<readonly unknown[]>,
  n: number,
  options: { app?: CanvasApp } = {},
): Chunks {
  const { sig, owner } = targetSignature(task);
  return new Chunks(sig, [...it], n, options.app ?? (owner as CanvasApp | undefined));
}
