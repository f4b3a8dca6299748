import type { RevisionMarker } from './health-history-schema.js';
import type { RolloutRecord } from './rollout/rollout-record.js';
import type { Revision } from './types.js';

/**
 * The revisions since `sinceMs` as chart markers, oldest first: those in `only` when given (the
 * revisions that changed the selected nodes), every one otherwise. A rollback names the rollout
 * that made it, its reason and the gates that failed (from the rollout's `rolled_back` event), or
 * says it was manual. Walks the log from its end, so a long history costs only the window. Pure.
 */
export function revisionMarkers(
  revisions: readonly Revision[],
  rollouts: readonly RolloutRecord[],
  sinceMs: number,
  only?: ReadonlySet<number>,
): RevisionMarker[] {
  const markers: RevisionMarker[] = [];
  for (let i = revisions.length - 1; i >= 0; i--) {
    const revision = revisions[i] as Revision;
    const t = Date.parse(revision.time);
    if (t < sinceMs) break;
    if (only !== undefined && !only.has(revision.revision)) continue;
    const marker: RevisionMarker = {
      revision: revision.revision,
      t,
      layer: revision.layer,
      kind: revision.kind,
      author: revision.author.name,
      message: revision.message,
    };
    if (revision.kind === 'rollback') marker.rollback = rollbackCause(revision, rollouts);
    markers.push(marker);
  }
  return markers.reverse();
}

function rollbackCause(
  revision: Revision,
  rollouts: readonly RolloutRecord[],
): NonNullable<RevisionMarker['rollback']> {
  const rollout = rollouts.find((record) => record.rollback_revision === revision.revision);
  const event = rollout?.events.findLast((entry) => entry.event === 'rolled_back');
  if (rollout === undefined || event === undefined) return { rollout: null, reason: revision.message, gates: [] };
  const gates = (event.gates ?? [])
    .filter((gate) => gate.verdict === 'fail')
    .map((gate) => ({ gate: gate.gate, measured: gate.measured, bound: gate.bound, detail: gate.detail }));
  return { rollout: rollout.id, reason: event.detail, gates };
}

/** The number of the first revision written at or after `sinceMs` (one past the head when none). Pure. */
export function firstRevisionSince(revisions: readonly Pick<Revision, 'revision' | 'time'>[], sinceMs: number): number {
  let first = (revisions.at(-1)?.revision ?? 0) + 1;
  for (let i = revisions.length - 1; i >= 0; i--) {
    const revision = revisions[i] as Pick<Revision, 'revision' | 'time'>;
    if (Date.parse(revision.time) < sinceMs) break;
    first = revision.revision;
  }
  return first;
}

/**
 * The revisions from `firstRevision` on among nodes' histories (the ascending lists of revisions
 * that changed each node's effective config, `NodeView.history`), reading each from its end. Pure.
 */
export function revisionsChanging(histories: Iterable<readonly number[]>, firstRevision: number): Set<number> {
  const revisions = new Set<number>();
  for (const history of histories)
    for (let i = history.length - 1; i >= 0 && (history[i] as number) >= firstRevision; i--)
      revisions.add(history[i] as number);
  return revisions;
}
