import type { GateVerdict } from './evaluate-gates.js';

/** What the center does next with a rollout. */
export type RolloutAction = 'hold' | 'promote' | 'rollback' | 'done';

/** What `decideStep` looks at: the clock, the wave's timing, its gates, and the operator's requests. */
export interface StepInput {
  now_ms: number;
  /** When the current wave was first served. */
  wave_started_ms: number;
  /** Since when every gate of the wave has passed without a break; null when they do not pass now. */
  passing_since_ms: number | null;
  soak_ms: number;
  progress_deadline_ms: number;
  verdict: GateVerdict;
  /** True when the current wave is the last one. */
  last_wave: boolean;
  paused: boolean;
  /** The operator asked to promote now, whatever the soak. */
  promote_now: boolean;
  /** Nodes of the wave still waiting for the restart budget. */
  waiting_for_budget: number;
}

/** The decision, why, and the passing-since time to keep for the next tick. */
export interface StepDecision {
  action: RolloutAction;
  reason: string;
  passing_since_ms: number | null;
}

/**
 * When to promote a rollout: a failed gate rolls back at once (even when paused); a wave still
 * pending after the progress deadline rolls back; an operator's promote goes ahead once the whole
 * wave was served; otherwise the wave is promoted (or the rollout done after the last wave) when
 * its gates have held for the soak time. Pure.
 */
export function decideStep(input: StepInput): StepDecision {
  const passingSince = input.verdict === 'pass' ? (input.passing_since_ms ?? input.now_ms) : null;
  const next: RolloutAction = input.last_wave ? 'done' : 'promote';
  if (input.verdict === 'fail') return { action: 'rollback', reason: 'a gate failed', passing_since_ms: null };
  const served = input.waiting_for_budget === 0;
  if (input.promote_now && served)
    return { action: next, reason: 'promoted by an operator', passing_since_ms: passingSince };
  if (input.verdict === 'pending' && input.now_ms - input.wave_started_ms >= input.progress_deadline_ms)
    return {
      action: 'rollback',
      reason: `gates still pending ${Math.round(input.progress_deadline_ms / 1000)}s after the wave started`,
      passing_since_ms: null,
    };
  if (input.paused) return { action: 'hold', reason: 'paused', passing_since_ms: passingSince };
  if (!served)
    return {
      action: 'hold',
      reason: `${input.waiting_for_budget} node(s) waiting for the restart budget`,
      passing_since_ms: passingSince,
    };
  if (passingSince === null) return { action: 'hold', reason: 'gates pending', passing_since_ms: null };
  const held = input.now_ms - passingSince;
  if (held >= input.soak_ms)
    return {
      action: next,
      reason: `gates held for the soak time (${Math.round(input.soak_ms / 1000)}s)`,
      passing_since_ms: passingSince,
    };
  return {
    action: 'hold',
    reason: `soaking: ${Math.ceil((input.soak_ms - held) / 1000)}s left`,
    passing_since_ms: passingSince,
  };
}
