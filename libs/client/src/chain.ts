import { randomUUID } from 'node:crypto';
import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult } from './async-result.js';
import { chainOf } from './canvas-pipe.js';
import { type CanvasApp, canvasAppOf, sendCanvas } from './canvas-send.js';
import { asSignature, chainSignature, groupTasks, signatureKind } from './canvas-shapes.js';
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
 * groups, chords or chains, reduced as Celery's `chain(*steps)` does (`a | b`: a group followed by
 * a step becomes a chord, a step after a chord joins its body, nested chains are spliced in);
 * `R` is what it resolves to: the last task's `AsyncResult`, or a `GroupResult` when it ends with a group.
 */
export class Chain<R extends AsyncResult | GroupResult = AsyncResult> {
  readonly steps: readonly Signature[];
  private readonly sender: ChainSender | undefined;

  /** What Celery's `chain(*steps)` makes of the steps (a chain, or the chord or group they reduce to). */
  private readonly reduced: Signature;
  /** The steps as given (their signatures know the app they were made with). */
  private readonly given: readonly Signature[];

  constructor(steps: readonly CanvasLike[], sender?: ChainSender) {
    const given = steps.map(toSignature);
    this.reduced = chainOf(given);
    this.steps = signatureKind(this.reduced) === 'chain' ? (this.reduced.kwargs.tasks as Signature[]) : [this.reduced];
    this.given = given;
    this.sender = sender;
  }

  /**
   * Publishes the first step; resolves to the result of the LAST step, with `parent` links back to
   * the first (a group step's `GroupResult`, a chord step's body result whose parent is its header).
   */
  applyAsync(options: ApplyOptions = {}): Promise<R> {
    const { link, link_error, ...rest } = options;
    // Celery's chain.run: `link` goes to the last step, `link_error` to every step.
    const steps = withChainCallbacks(this.steps, link, link_error);
    if (steps.some((s) => signatureKind(s) !== 'task')) return this.applyNested(steps, rest) as Promise<R>;
    return this.applyPlain(steps, rest) as Promise<R>;
  }

  private async applyNested(steps: Signature[], options: ApplyOptions): Promise<AsyncResult | GroupResult> {
    const app = canvasAppOf(this.given, isCanvasApp(this.sender) ? this.sender : undefined);
    const sig = signatureKind(this.reduced) === 'chain' ? chainSignature(steps) : (steps[0] as Signature);
    return sendCanvas(app, sig, [], options);
  }

  private applyPlain(given: Signature[], options: ApplyOptions): Promise<AsyncResult> {
    const sender = this.sender ?? this.given.map((s) => signatureOwner<ChainSender>(s)).find(Boolean);
    if (!sender) {
      return Promise.reject(
        new ChainError('this chain has no app: build its steps with task.s()/task.si(), or use app.chain(...)'),
      );
    }
    // Step ids are given here so that the result's `parent` links (Celery's) can be built.
    const steps = given.map((s) =>
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
    return { ...this.reduced, options: { ...this.reduced.options } };
  }

  /** `applyAsync()` with no options. */
  delay(): Promise<R> {
    return this.applyAsync();
  }
}

function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Adds callbacks to a step as Celery's chain does: `link` on the step's own options (a chord passes
 * them on to its body when it is sent), `link_error` through `Signature.link_error` (a chord's go to
 * its body); a group's go to every member, which is where Celery's group sends them.
 */
function withListOption(sig: Signature, name: 'link' | 'link_error', values: readonly unknown[]): Signature {
  const kind = signatureKind(sig);
  if (kind === 'chord' && name === 'link_error') {
    return { ...sig, kwargs: { ...sig.kwargs, body: withListOption(asSignature(sig.kwargs.body), name, values) } };
  }
  if (kind === 'group') {
    return { ...sig, kwargs: { ...sig.kwargs, tasks: groupTasks(sig).map((m) => withListOption(m, name, values)) } };
  }
  return withOptions(sig, { [name]: [...listOf(sig.options[name]), ...values] });
}

/** The steps with a chain's `link` on its last step and its `link_error` on every step (Celery's `chain.run`). */
function withChainCallbacks(steps: readonly Signature[], link: unknown, linkError: unknown): Signature[] {
  const links = listOf(link);
  const errbacks = listOf(linkError);
  return steps.map((step, i) => {
    let out = errbacks.length > 0 ? withListOption(step, 'link_error', errbacks) : step;
    if (links.length > 0 && i === steps.length - 1) out = withListOption(out, 'link', links);
    return out;
  });
}

/** `chain(add.s(1, 2), mul.s(10))`, `chain(add.s(1, 1), group(...), tsum.s())`: call `.applyAsync()` to send it. */
export function chain(...steps: [...CanvasLike[], Group]): Chain<GroupResult>;
export function chain(...steps: CanvasLike[]): Chain<AsyncResult>;
export function chain(...steps: CanvasLike[]): Chain<AsyncResult | GroupResult> {
  return new Chain(steps);
}
