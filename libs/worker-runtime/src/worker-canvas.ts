import { asSignature, type CanvasCallOptions, type PlannedMessage, planCanvas, signatureKind } from '@celeriac/client';
import type { Logger } from '@celeriac/logger';
import type { OutgoingTask, ResultDocument, Signature, TaskMessage } from '@celeriac/protocol';
import type { ChordPart, ResultTuple } from '@celeriac/result-backend';
import { signatureMessage } from './follow-up-messages.js';
import type { WorkerApp } from './worker-app.js';

/** The result-backend calls chords and groups need (`RedisResultBackend` has them all). */
export interface CanvasBackend {
  store(doc: ResultDocument): Promise<void>;
  getMany(taskIds: readonly string[]): Promise<(ResultDocument | null)[]>;
  setChordSize(groupId: string, size: number): Promise<void>;
  chordPartReturn(
    groupId: string,
    groupIndex: number | null,
    part: ChordPart,
  ): Promise<{ complete: boolean; ready: number; total: number | null; parts: ChordPart[]; saved: ResultTuple | null }>;
  deleteChord(groupId: string): Promise<void>;
  /** `GroupResult.save()`: a chord header whose parts' results nest is saved before it is sent (`apply_chord`). */
  saveGroup(groupId: string, tuple: ResultTuple): Promise<void>;
}

/** Whether a backend can count chord parts (a structural check: tests may inject a plain store). */
export function isCanvasBackend(value: unknown): value is CanvasBackend {
  const o = value as Partial<CanvasBackend> | null | undefined;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.chordPartReturn === 'function' &&
    typeof o.setChordSize === 'function' &&
    typeof o.getMany === 'function'
  );
}

/** The task a spawned message comes from: its id becomes `parent_id`, its root is kept. */
export type SpawningTask = Pick<TaskMessage, 'id' | 'rootId'>;

function list(value: unknown): Signature[] | null {
  if (value === undefined || value === null) return null;
  const items = Array.isArray(value) ? value : [value];
  return items.map(asSignature);
}

/**
 * Sends signatures of any kind from inside the worker (a chord body, an old-style errback group,
 * the `celery.group`/`chord`/`chunks` built-ins), laid out by the client's canvas planner so that
 * both sides send the same messages: `parent_id` = the spawning task, `root_id` kept.
 */
export class WorkerCanvas {
  readonly app: WorkerApp;
  readonly backend: CanvasBackend | null;
  readonly logger: Logger;
  readonly origin: string;

  constructor(o: { app: WorkerApp; backend: CanvasBackend | null; logger: Logger; origin: string }) {
    this.app = o.app;
    this.backend = o.backend;
    this.logger = o.logger;
    this.origin = o.origin;
  }

  /** The message of one planned task spawned by `parent`. */
  private outgoing(m: PlannedMessage, parent: SpawningTask): OutgoingTask {
    const options = m.sig.options;
    const routed =
      m.routeName !== null && typeof options.queue !== 'string'
        ? { ...m.sig, options: { ...options, queue: this.app.routeFor(m.routeName).queue } }
        : m.sig;
    const out = signatureMessage(this.app, routed, m.args, parent as TaskMessage, this.origin, m.chain);
    out.id = m.id;
    out.groupId = m.groupId;
    out.groupIndex = m.groupIndex;
    out.embed = { callbacks: list(options.link), errbacks: list(options.link_error), chain: m.chain, chord: m.chord };
    return out;
  }

  /**
   * Whether the next step of a chain needs the canvas planner rather than a plain message: a group,
   * a chord, or a task that joins a group or chord header (the last task of a chain nested in a
   * group or chord, as Celery's `prepare_steps` marks it with `group_id`/`chord`/`group_index`).
   */
  static isCanvasStep(chain: readonly Signature[] | null | undefined): boolean {
    const next = chain?.[chain.length - 1];
    if (next === undefined || next === null) return false;
    let sig: Signature;
    try {
      sig = asSignature(next);
    } catch {
      return false;
    }
    const options = sig.options;
    return signatureKind(sig) !== 'task' || options.group_id != null || options.chord != null;
  }

  /**
   * Sends the next step of `m`'s chain with `result` as its partial argument, as Celery's worker
   * does (`signature(chain.pop()).apply_async((retval,), chain=chain)`): the rest of the chain
   * rides on a task step, in a chord step's body, or (as Celery does, though its own chains never
   * put a step after a group) on every member of a group step. Resolves to the `children` entries; never rejects.
   */
  async applyChainStep(m: TaskMessage, result: unknown): Promise<ResultTuple[]> {
    const chain = m.embed.chain ?? [];
    try {
      const next = asSignature(chain[chain.length - 1]);
      const rest = chain.slice(0, -1).map(asSignature);
      return [await this.apply(next, [result], { id: m.id, rootId: m.rootId ?? m.id }, { chain: rest })];
    } catch (error) {
      this.logger.error(
        { event: 'worker.follow_up_failed', task_id: m.id, err: error },
        'Could not send the next chain step (a group, chord or header part)',
      );
      return [];
    }
  }

  /**
   * Lays out and sends `sig` with `partialArgs` prepended (unless immutable) and applied with
   * `options` (a chain step's rest); nested chord headers are saved and chord sizes stored before
   * any header part is sent. Resolves to the result tuple (`children` entry).
   */
  async apply(
    sig: Signature,
    partialArgs: readonly unknown[],
    parent: SpawningTask,
    options: CanvasCallOptions = {},
  ): Promise<ResultTuple> {
    const plan = planCanvas(sig, partialArgs, undefined, options);
    const messages = plan.messages.map((m) => this.outgoing(m, parent));
    if (plan.chordSizes.length > 0 || plan.groupSaves.length > 0) {
      if (this.backend === null) {
        throw new Error(`cannot send chord ${sig.task}: this worker has no result backend that counts chord parts`);
      }
      for (const { groupId, tuple } of plan.groupSaves) await this.backend.saveGroup(groupId, tuple);
      for (const { groupId, size } of plan.chordSizes) await this.backend.setChordSize(groupId, size);
    }
    await Promise.all(messages.map((outgoing) => this.app.publish(outgoing)));
    return plan.result;
  }
}
