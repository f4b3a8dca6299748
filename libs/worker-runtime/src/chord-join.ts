import { asSignature } from '@celeriac/client';
import {
  exceptionFromResult,
  formatNaiveUtc,
  type ResultDocument,
  type Signature,
  type TaskMessage,
} from '@celeriac/protocol';
import type { ChordPart, ResultTuple } from '@celeriac/result-backend';
import { ChordError } from './celery-exceptions.js';
import { callErrbacks, chordErrbackRequest } from './errbacks.js';
import { exceptionDocument } from './exception-document.js';
import type { SpawningTask, WorkerCanvas } from './worker-canvas.js';

/** States whose result makes a chord fail (Celery's PROPAGATE_STATES). */
const PROPAGATE = new Set(['FAILURE', 'REVOKED']);

function repr(taskId: string, state: string, result: unknown): string {
  return exceptionFromResult({
    status: state,
    result,
    traceback: null,
    children: [],
    date_done: null,
    task_id: taskId,
  }).message;
}

/** A header part's value, or the ChordError Celery's `_unpack_chord_result` raises for it. */
function unpack(part: ChordPart): unknown {
  if (PROPAGATE.has(part.state))
    throw new ChordError(`Dependency ${part.taskId} raised ${repr(part.taskId, part.state, part.result)}`);
  return part.result;
}

/** The results of a saved (nested) header GroupResult, joined as Celery's `join_native` (nested lists). */
async function joinSaved(canvas: WorkerCanvas, tuple: ResultTuple): Promise<unknown[]> {
  const backend = canvas.backend!;
  const ids: string[] = [];
  const collect = (t: ResultTuple) => {
    if (Array.isArray(t[1])) for (const child of t[1]) collect(child);
    else ids.push(t[0][0]);
  };
  collect(tuple);
  const docs = await backend.getMany(ids);
  const byId = new Map<string, ResultDocument | null>(ids.map((id, i) => [id, docs[i] ?? null]));
  const build = (t: ResultTuple): unknown => {
    if (Array.isArray(t[1])) return t[1].map(build);
    const id = t[0][0];
    const doc = byId.get(id) ?? null;
    if (doc === null) throw new ChordError(`Dependency ${id} has no result`);
    return unpack({ taskId: id, state: doc.status, result: doc.result });
  };
  return Array.isArray(tuple[1]) ? tuple[1].map(build) : [build(tuple)];
}

/**
 * Celery's `chord_error_from_stack`: calls the body's `link_error` errbacks with a request faked
 * from the body, then stores the body's FAILURE with the ChordError.
 */
export async function chordErrorFromStack(
  canvas: WorkerCanvas,
  callback: Signature,
  error: ChordError,
  spawner: SpawningTask,
): Promise<void> {
  const bodyId = typeof callback.options.task_id === 'string' ? callback.options.task_id : null;
  canvas.logger.error(
    { event: 'worker.chord_failed', body_id: bodyId, body: callback.task, err: error },
    'Chord body cannot run; its FAILURE is stored with ChordError',
  );
  const errbacks = callback.options.link_error;
  if (errbacks !== undefined && errbacks !== null) {
    const list = Array.isArray(errbacks) ? errbacks : [errbacks];
    await callErrbacks(canvas, list, chordErrbackRequest(callback, spawner.rootId), error, null);
  }
  if (bodyId === null || canvas.backend === null) return;
  const { result, traceback } = exceptionDocument(error);
  await canvas.backend.store({
    status: 'FAILURE',
    result,
    traceback,
    children: [],
    date_done: formatNaiveUtc(new Date()),
    task_id: bodyId,
  });
}

/**
 * The later chain steps of `m` that are chord header parts (the last task of a chain inside a
 * chord header carries `chord`, `group_id`, `group_index` in its options), as messages to count.
 */
function chainChordParts(m: TaskMessage): TaskMessage[] {
  const out: TaskMessage[] = [];
  for (const step of m.embed.chain ?? []) {
    const options = (step?.options ?? {}) as Record<string, unknown>;
    const id = options.task_id;
    const groupId = options.group_id;
    if (options.chord == null || typeof id !== 'string' || typeof groupId !== 'string') continue;
    const groupIndex = typeof options.group_index === 'number' ? options.group_index : null;
    out.push({
      ...m,
      id,
      groupId,
      groupIndex,
      embed: { callbacks: null, errbacks: null, chain: null, chord: options.chord as Signature },
    });
  }
  return out;
}

/**
 * Whether ending `m` in `state` counts a chord part: it is one, or it failed and a later step of
 * its chain is one (Celery's `mark_as_failure` counts those too, so the chord does not stall).
 */
export function endsChordPart(m: TaskMessage, state: string): boolean {
  if (m.embed.chord !== null && m.embed.chord !== undefined) return true;
  return PROPAGATE.has(state) && chainChordParts(m).length > 0;
}

/**
 * Celery 5.2's `on_chord_part_return` for the Redis backend: a finished header part (state and
 * encoded result) is counted in `celery-taskset-meta-<gid>.j`; the part that completes the count
 * sends the body with the list of results in header order (`parent_id` = this task), or, when a
 * part failed, fails the body with `ChordError` and calls its errbacks; then the counters are
 * deleted. Never throws: a backend error is logged (the chord then cannot complete, as in Celery).
 */
export async function chordPartReturn(
  canvas: WorkerCanvas,
  m: TaskMessage,
  state: string,
  result: unknown,
): Promise<void> {
  // A failed chain step fails the chord parts later in its chain, as Celery's mark_as_failure.
  if (PROPAGATE.has(state)) {
    for (const part of chainChordParts(m)) await chordPartReturn(canvas, part, state, result);
  }
  const chord = m.embed.chord;
  const groupId = m.groupId;
  if (chord === null || chord === undefined || groupId === null) return;
  const backend = canvas.backend;
  if (backend === null) {
    canvas.logger.error(
      { event: 'worker.chord_unsupported', task_id: m.id, group_id: groupId },
      'This task is a chord header part but the worker has no Redis result backend to count it; the chord body will never run',
    );
    return;
  }
  let callback: Signature;
  try {
    callback = asSignature(chord);
  } catch (error) {
    canvas.logger.error(
      { event: 'worker.chord_invalid', task_id: m.id, group_id: groupId, err: error },
      'The chord body of this task is not a signature; the chord cannot complete',
    );
    return;
  }
  let joined: Awaited<ReturnType<typeof backend.chordPartReturn>>;
  try {
    joined = await backend.chordPartReturn(groupId, m.groupIndex, { taskId: m.id, state, result });
  } catch (error) {
    canvas.logger.error(
      { event: 'worker.chord_join_failed', task_id: m.id, group_id: groupId, err: error },
      'Could not count this chord part in the result backend',
    );
    return;
  }
  canvas.logger.debug(
    { event: 'worker.chord_part', task_id: m.id, group_id: groupId, ready: joined.ready, total: joined.total },
    'Chord part counted',
  );
  if (!joined.complete) return;
  const spawner: SpawningTask = { id: m.id, rootId: m.rootId ?? m.id };
  let values: unknown[];
  try {
    values = joined.saved !== null ? await joinSaved(canvas, joined.saved) : joined.parts.map(unpack);
  } catch (error) {
    const chordError = error instanceof ChordError ? error : new ChordError(`Join error: ${String(error)}`);
    await chordErrorFromStack(canvas, callback, chordError, spawner).catch((e: unknown) =>
      canvas.logger.error({ event: 'worker.chord_failed', group_id: groupId, err: e }, 'Could not fail the chord body'),
    );
    return;
  }
  try {
    await canvas.apply(callback, [values], spawner);
    canvas.logger.info(
      { event: 'worker.chord_body_sent', task_id: m.id, group_id: groupId, body: callback.task, parts: values.length },
      'Chord complete: body sent',
    );
  } catch (error) {
    await chordErrorFromStack(canvas, callback, new ChordError(`Callback error: ${String(error)}`), spawner).catch(
      (e: unknown) =>
        canvas.logger.error(
          { event: 'worker.chord_failed', group_id: groupId, err: e },
          'Could not fail the chord body',
        ),
    );
  } finally {
    await backend
      .deleteChord(groupId)
      .catch((error: unknown) =>
        canvas.logger.warn(
          { event: 'worker.chord_cleanup_failed', group_id: groupId, err: error },
          'Could not delete the chord counters; they expire with result_expires',
        ),
      );
  }
}
