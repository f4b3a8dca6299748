import type { RolloutPolicy } from '@celeriac/config-schema';
import type { CommitResult } from '../center-state.js';
import type { ConfigService } from '../config-service.js';
import type { Revision } from '../types.js';
import { planWaves } from './plan-waves.js';
import { programCount } from './program-count.js';
import type { RolloutRecord } from './rollout-record.js';

/**
 * The record, at its first wave, of the rollout `id` that a committed revision with `policy` starts:
 * the nodes it changes (every node without a layer of its own when the baseline changed) planned
 * into waves. Undefined when the revision changes no node.
 */
export function newRolloutRecord(
  id: string,
  revision: Revision,
  policy: RolloutPolicy,
  result: CommitResult,
  service: ConfigService,
): RolloutRecord | undefined {
  const state = service.state;
  const affected = new Set(result.changedNodes);
  if (result.baselineChanged)
    for (const node of service.knownNodes()) if (!state.hasNodeLayer(node)) affected.add(node);
  if (affected.size === 0) return undefined;
  const selectable = [...affected].map((node) => ({ node, groups: state.groups(node), labels: state.labels(node) }));
  const prior: Record<string, number> = {};
  const restarts: Record<string, number> = {};
  for (const node of affected) {
    const history = state.view(node).history;
    prior[node] = history.at(-2) ?? 0;
    restarts[node] = Math.max(1, programCount(state.view(node).config));
  }
  const now = new Date().toISOString();
  return {
    id,
    revision: revision.revision,
    layer: revision.layer,
    layer_base_revision: layerRevisionBefore(state.revisions, revision.layer, revision.revision),
    state: 'running',
    policy,
    waves: planWaves(policy, selectable),
    wave: 0,
    wave_started_at: now,
    passing_since: null,
    promote_requested: false,
    served: [],
    prior,
    restarts,
    started_at: now,
    updated_at: now,
    last_verdict: null,
    last_gates: [],
    last_reason: 'starting',
    events: [],
  };
}

/** The revision of `layer`'s last change before `revision` (0 when it did not exist). */
export function layerRevisionBefore(revisions: readonly Revision[], layer: string, revision: number): number {
  for (let i = revision - 2; i >= 0; i--) if (revisions[i]?.layer === layer) return i + 1;
  return 0;
}
