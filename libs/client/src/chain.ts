import { randomUUID } from 'node:crypto';
import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult } from './async-result.js';
import { signatureKind } from './canvas-plan.js';
import { type CanvasApp, canvasAppOf, sendCanvas } from './canvas-send.js';
import { ChainError } from './errors.js';
import { type CanvasLike, type Group, toSignature } from './group.js';
import type { GroupResult } from './group-result.js';
import { signatureOwner, withOptions } from './signature.js';

/** The message layout of a chain: what to publish first and what rides in its `embed.chain`. */
export interface ChainPlan {
  /** The first step, to publish now (its `options.task_id` set). */
  first: Signature;
  /** The remaining steps in REVERSE order (the next step is last), each with `options.task_id`. */
  embedChain: Signature[];
  /** The id of the last step: its result is the chain's result. */
  lastId: string;
}

/** Lays out a chain as Celery does; step ids already in `options.task_id` are kept. */
export function planChain(steps: readonly Signature[]): ChainPlan {
  if (steps.length === 0) throw new ChainError('chain() needs at least one signature');
  const withIds = steps.map((s) =>
    typeof s.options?.task_id === 'string' ? s : withOptions(s, { task_id: randomUUID() }),
  );
  const [first, ...rest] = withIds;
  const last = withIds[withIds.length - 1]!;
  return { first: first!, embedChain: rest.reverse(), lastId: last.options.task_id as string };
}

/** What a chain needs from the app to be sent. */
export interface ChainSender {
  applyChain(steps: readonly Signature[], options?: ApplyOptions): Promise<AsyncResult>;
}

function isCanvasApp(value: unknown): value is CanvasApp {
  return typeof (value as Partial<CanvasApp> | undefined)?.taskOptions === 'function';
}

/**
 * A chain of signatures: each step's result is prepended to the next step's args. Steps may be
 * groups, chords or chains (Celery's `prepare_steps`: a group followed by a task becomes a chord);
 * `R` is what it resolves to: the last task's `AsyncResult`, or a `GroupResult` when it ends with a group.
 */
export class Chain<R extends AsyncResult | GroupResult = AsyncResult> {
  readonly steps: readonly Signature[];
  private readonly sender: ChainSender | undefined;

  constructor(steps: readonly CanvasLike[], sender?: ChainSender) {
    this.steps = steps.map(toSignature);
    this.sender = sender;
  }

  /**
   * Publishes the first step; resolves to the result of the LAST step, with `parent` links back to
   * the first (a group step's `GroupResult`, a chord step's body result whose parent is its header).
   */
  applyAsync(options: ApplyOptions = {}): Promise<R> {
    if (this.steps.some((s) => signatureKind(s) !== 'task')) return this.applyNested(options) as Promise<R>;
    return this.applyPlain(options) as Promise<R>;
  }

  private async applyNested(options: ApplyOptions): Promise<AsyncResult | GroupResult> {
    const app = canvasAppOf(this.steps, isCanvasApp(this.sender) ? this.sender : undefined);
    return sendCanvas(app, this.toSignature(), [], options);
  }

  private applyPlain(options: ApplyOptions): Promise<AsyncResult> {
    const sender = this.sender ?? this.steps.map((s) => signatureOwner<ChainSender>(s)).find(Boolean);
    if (!sender) {
      return Promise.reject(
        new ChainError('this chain has no app: build its steps with task.s()/task.si(), or use app.chain(...)'),
      );
    }
    // Step ids are given here so that the result's `parent` links (Celery's) can be built.
    const steps = this.steps.map((s) =>
      typeof s.options?.task_id === 'string' ? s : withOptions(s, { task_id: randomUUID() }),
    );
    return sender.applyChain(steps, options).then((last) => {
      let parent: AsyncResult | null = null;
      for (const step of steps.slice(0, -1)) {
        const r =
          last.id === step.options.task_id
            ? last
            : new AsyncResult(step.options.task_id as string, () => last.resultSource, last.resultRevoker);
        r.parent = parent;
        parent = r;
      }
      last.parent = parent;
      return last;
    });
  }

  /** The chain as a Celery signature (`celery.chain`, `subtask_type: 'chain'`), to nest in a group or a chord body. */
  toSignature(): Signature {
    return {
      task: 'celery.chain',
      args: [],
      kwargs: { tasks: [...this.steps] },
      options: {},
      subtask_type: 'chain',
      immutable: false,
    };
  }

  /** `applyAsync()` with no options. */
  delay(): Promise<R> {
    return this.applyAsync();
  }
}

/** `chain(add.s(1, 2), mul.s(10))`, `chain(add.s(1, 1), group(...), tsum.s())`: call `.applyAsync()` to send it. */
export function chain(...steps: [...CanvasLike[], Group]): Chain<GroupResult>;
export function chain(...steps: CanvasLike[]): Chain<AsyncResult>;
export function chain(...steps: CanvasLike[]): Chain<AsyncResult | GroupResult> {
  return new Chain(steps);
}
