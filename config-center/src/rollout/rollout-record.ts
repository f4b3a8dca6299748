import type { RolloutPolicy } from '@celeriac/config-schema';
import type { GateResult, GateVerdict } from './evaluate-gates.js';
import type { PlannedWave } from './plan-waves.js';

/** States of a rollout; `rolling_back` lasts while its rollback revision is written. */
export const ROLLOUT_STATES = ['running', 'paused', 'succeeded', 'rolling_back', 'rolled_back'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** One logged step of a rollout (promotion, pause, breach, rollback), shown by `rollout status`. */
export interface RolloutEvent {
  at: string;
  event: 'started' | 'promoted' | 'paused' | 'resumed' | 'promote_requested' | 'rolled_back' | 'succeeded' | 'aborted';
  wave: number;
  detail: string;
  /** The gates that decided it (a breach: the failing gate, its measured value and bound). */
  gates?: GateResult[];
}

/** A rollout as the center keeps and serves it (GET /v1/rollouts). */
export interface RolloutRecord {
  id: string;
  /** The revision rolled out, its layer, and the layer's revision before it (0: it did not exist). */
  revision: number;
  layer: string;
  layer_base_revision: number;
  state: RolloutState;
  policy: RolloutPolicy;
  waves: PlannedWave[];
  wave: number;
  wave_started_at: string;
  passing_since: string | null;
  promote_requested: boolean;
  /** Nodes served the revision so far. */
  served: string[];
  /** Each affected node's effective revision before the rollout (what it keeps until served). */
  prior: Record<string, number>;
  /** Programs the change restarts on each affected node (for the restart budget). */
  restarts: Record<string, number>;
  started_at: string;
  updated_at: string;
  last_verdict: GateVerdict | null;
  last_gates: GateResult[];
  last_reason: string;
  rollback_revision?: number;
  events: RolloutEvent[];
}

/** True while the rollout decides what its nodes are served. */
export function isActive(record: RolloutRecord): boolean {
  return record.state === 'running' || record.state === 'paused';
}
