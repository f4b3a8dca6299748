import type { Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult } from './async-result.js';
import { CanvasError } from './canvas-errors.js';
import { canvasAppOf, sendCanvas } from './canvas-send.js';
import { chordSignature } from './canvas-shapes.js';
import { type CanvasLike, type CanvasOptions, Group, toSignature } from './group.js';
import type { GroupResult } from './group-result.js';
import { withOptions } from './signature.js';

/**
 * Celery's `chord`: a header group, then a body called with the list of the header's results (in
 * header order) once every part is done. On Redis the worker that finishes the last part sends
 * the body (Celery 5.2's `.j`/`.s` counters); a failed part makes the body fail with `ChordError`.
 * Call it like Celery: `chord(header)(body)` or `chord(header, body).applyAsync()`.
 */
export interface Chord<R extends AsyncResult | GroupResult = AsyncResult> {
  /** `chord(header)(body)`: sends the chord with this body. */
  (body: CanvasLike, options?: ApplyOptions): Promise<R>;
  readonly header: readonly Signature[];
  readonly body: Signature | null;
  /**
   * Sends it; resolves to the body's result, whose `parent` is the header's `GroupResult`. `link` and
   * `link_error` go to the body (called with the joined result, or with ChordError); the other
   * options apply to every message. A group body resolves to its `GroupResult` (as Celery's).
   */
  applyAsync(options?: ApplyOptions): Promise<R>;
  /** `applyAsync()`. */
  delay(): Promise<R>;
  /** The chord as a Celery signature (`celery.chord`, `subtask_type: 'chord'`). */
  toSignature(): Signature;
}

function listOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

async function sendChord(
  header: readonly Signature[],
  body: Signature,
  options: ApplyOptions,
  canvas: CanvasOptions,
): Promise<AsyncResult | GroupResult> {
  const app = canvasAppOf([...header, body], canvas.app);
  const { task_id, link, link_error, ...rest } = options;
  // As Celery's chord: callbacks and errbacks given to the chord belong to its body.
  const bodyOptions: Record<string, unknown> = {};
  if (link !== undefined) bodyOptions.link = [...listOf(body.options.link), ...listOf(link)];
  if (link_error !== undefined) bodyOptions.link_error = [...listOf(body.options.link_error), ...listOf(link_error)];
  const sig = chordSignature(header, Object.keys(bodyOptions).length > 0 ? withOptions(body, bodyOptions) : body);
  if (task_id !== undefined) sig.options = { task_id };
  return sendCanvas(app, sig, [], rest);
}

/** `chord([add.s(1, 1), add.s(2, 2)], tsum.s())`, or `chord(header)(body)`; a group body gives a `GroupResult`. */
export function chord(header: Group | readonly CanvasLike[], body: Group, options?: CanvasOptions): Chord<GroupResult>;
export function chord(header: Group | readonly CanvasLike[], body?: CanvasLike, options?: CanvasOptions): Chord;
export function chord(
  header: Group | readonly CanvasLike[],
  body?: CanvasLike,
  options: CanvasOptions = {},
): Chord<AsyncResult | GroupResult> {
  const members = header instanceof Group ? header.tasks : header.map(toSignature);
  const bodySig = body === undefined ? null : toSignature(body);
  const call = (b: CanvasLike, applyOptions: ApplyOptions = {}) =>
    sendChord(members, toSignature(b), applyOptions, options);
  return Object.assign(call, {
    header: members,
    body: bodySig,
    applyAsync(applyOptions: ApplyOptions = {}): Promise<AsyncResult | GroupResult> {
      if (bodySig === null) return Promise.reject(new CanvasError('this chord has no body: call chord(header)(body)'));
      return sendChord(members, bodySig, applyOptions, options);
    },
    delay(): Promise<AsyncResult | GroupResult> {
      return this.applyAsync();
    },
    toSignature(): Signature {
      if (bodySig === null) throw new CanvasError('this chord has no body');
      return chordSignature(members, bodySig);
    },
  }) as Chord<AsyncResult | GroupResult>;
}

/** The header results of a chord's body result (its `parent`), when it was sent from here. */
export function chordHeaderOf(result: AsyncResult): GroupResult | null {
  const parent = result.parent;
  return parent !== null && !(parent instanceof AsyncResult) ? parent : null;
}
