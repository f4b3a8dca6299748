import type { NodeStatus, NodeSummary } from '@celeriac/config-schema';
import type { CenterState, NodeView } from './center-state.js';
import type { ConfigService, RolloutPlacement } from './config-service.js';
import type { NodeStatusRecord } from './types.js';

/** What `GET /v1/nodes` says about one node: one type, derived from config-schema's `nodeSummarySchema`. */
export type { NodeSummary };

/** A node is stale after this many heartbeats without a report. */
export const MISSED_HEARTBEATS = 3;
/** Floor of the stale delay, so that a sub-second heartbeat does not flap with scheduling jitter. */
export const MIN_STALE_AFTER_MS = 1000;

/**
 * How long a node may stay silent before it is stale: 3 heartbeats of the period its agent
 * announced in its last report (`heartbeat_ms`), never under one second; `fallbackMs` (3 of the
 * center's `--heartbeat`) for an agent that announced none.
 */
export function staleAfterMs(status: Record<string, unknown> | undefined, fallbackMs: number): number {
  const heartbeatMs = status?.heartbeat_ms;
  if (typeof heartbeatMs !== 'number' || !Number.isFinite(heartbeatMs) || heartbeatMs <= 0) return fallbackMs;
  return Math.max(MIN_STALE_AFTER_MS, MISSED_HEARTBEATS * heartbeatMs);
}

/** What a node is served now (`ConfigService.servedView`) and the rollout deciding it (`rolloutPlacement`). */
export interface ServedPlacement {
  view: NodeView;
  rollout: RolloutPlacement | null;
}

/** What `service` serves the node now, and the rollout deciding it: a cheap synchronous lookup. */
export function servedPlacement(
  service: Pick<ConfigService, 'servedView' | 'rolloutPlacement'>,
  node: string,
): ServedPlacement {
  return { view: service.servedView(node), rollout: service.rolloutPlacement(node) };
}

/**
 * Builds a node's summary from the center's state and its last status report. `fallbackStaleAfterMs`
 * applies to agents that do not announce their heartbeat (see `staleAfterMs`). `served` is what the
 * node is served: while a rollout holds it back, `desired_revision` is that revision, the state's
 * newest is `latest_revision`, and `rollout` names the rollout and the node's wave. Without it the
 * node is taken to be served its newest config.
 */
export function summarizeNode(
  state: CenterState,
  node: string,
  record: NodeStatusRecord | undefined,
  fallbackStaleAfterMs: number,
  now = Date.now(),
  served?: ServedPlacement,
): NodeSummary {
  const latest = state.view(node);
  const view = served?.view ?? latest;
  const status = (record?.status ?? {}) as Record<string, unknown>;
  const applied = typeof status.applied_revision === 'number' ? status.applied_revision : null;
  let appliedHash: string | null = null;
  if (applied !== null)
    appliedHash =
      applied >= latest.revision
        ? latest.hash
        : applied === view.revision
          ? view.hash
          : state.effectiveAt(node, applied).hash;
  const reportedDrift = status.drift === true;
  const outOfDate = applied === null || appliedHash !== view.hash;
  const silenceMs = staleAfterMs(status, fallbackStaleAfterMs);
  const stale = record !== undefined && now - Date.parse(record.received_at) > silenceMs;
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
    labels: state.labels(node),
    desired_revision: view.revision,
    desired_hash: view.hash,
    latest_revision: latest.revision,
    latest_hash: latest.hash,
    rollout: served?.rollout
      ? { id: served.rollout.id, wave: served.rollout.wave, served: served.rollout.served }
      : null,
    applied_revision: applied,
    attempted_revision: typeof status.attempted_revision === 'number' ? status.attempted_revision : null,
    apply_result: applyResult,
    message: typeof status.message === 'string' ? status.message : null,
    last_seen: record?.received_at ?? null,
    stale_after_ms: silenceMs,
    stale,
    drift: record !== undefined && (reportedDrift || (applied !== null && appliedHash !== view.hash)),
    state: summaryState,
    programs: (status.programs as NodeSummary['programs'] | undefined) ?? {},
    agent: (status.agent as NodeStatus['agent']) ?? null,
    ...(Array.isArray(status.fleet_limits) ? { fleet_limits: status.fleet_limits as NodeStatus['fleet_limits'] } : {}),
  };
}
