import type { CenterState } from './center-state.js';
import type { NodeStatusRecord } from './types.js';

/** What `GET /v1/nodes` says about one node. */
export interface NodeSummary {
  node: string;
  has_layer: boolean;
  groups: string[];
  desired_revision: number;
  desired_hash: string;
  applied_revision: number | null;
  attempted_revision: number | null;
  apply_result: string | null;
  message: string | null;
  last_seen: string | null;
  stale: boolean;
  /** The applied config differs from the desired one, or the agent saw a hand edit. */
  drift: boolean;
  /** unknown (never reported), stale, failed, drift, pending (not applied yet) or in_sync. */
  state: 'unknown' | 'stale' | 'failed' | 'drift' | 'pending' | 'in_sync';
  programs: Record<string, unknown>;
  agent: unknown;
}

/** Builds a node's summary from the center's state and its last status report. */
export function summarizeNode(
  state: CenterState,
  node: string,
  record: NodeStatusRecord | undefined,
  staleAfterMs: number,
  now = Date.now(),
): NodeSummary {
  const view = state.view(node);
  const status = (record?.status ?? {}) as Record<string, unknown>;
  const applied = typeof status.applied_revision === 'number' ? status.applied_revision : null;
  const appliedHash =
    applied === null ? null : applied >= view.revision ? view.hash : state.effectiveAt(node, applied).hash;
  const reportedDrift = status.drift === true;
  const outOfDate = applied === null || appliedHash !== view.hash;
  const stale = record !== undefined && now - Date.parse(record.received_at) > staleAfterMs;
  const applyResult = typeof status.apply_result === 'string' ? status.apply_result : null;
  let summaryState: NodeSummary['state'] = 'in_sync';
  if (!record) summaryState = 'unknown';
  else if (stale) summaryState = 'stale';
  else if (applyResult === 'failed' || applyResult === 'invalid') summaryState = 'failed';
  else if (reportedDrift) summaryState = 'drift';
  else if (outOfDate) summaryState = 'pending';
  return {
    node,
    has_layer: state.hasNodeLayer(node),
    groups: state.groups(node),
    desired_revision: view.revision,
    desired_hash: view.hash,
    applied_revision: applied,
    attempted_revision: typeof status.attempted_revision === 'number' ? status.attempted_revision : null,
    apply_result: applyResult,
    message: typeof status.message === 'string' ? status.message : null,
    last_seen: record?.received_at ?? null,
    stale,
    drift: record !== undefined && (reportedDrift || (applied !== null && appliedHash !== view.hash)),
    state: summaryState,
    programs: (status.programs as Record<string, unknown> | undefined) ?? {},
    agent: status.agent ?? null,
  };
}
