import type { NodeStatus, RestartBudget } from '@celeriac/config-schema';

/** A node waiting to be served a change, and how many of its programs that change restarts. */
export interface RestartCandidate {
  node: string;
  restarts: number;
}

/** Which candidates may be served now and which wait for the budget. */
export interface RestartAdmission {
  admitted: string[];
  waiting: string[];
  /** Most programs that may restart at once; Infinity without a budget. */
  limit: number;
}

/** The most programs that may restart at once: the tighter of `programs` and `percent` of the fleet (at least 1). */
export function restartLimit(budget: RestartBudget | undefined, fleetPrograms: number): number {
  if (budget === undefined) return Number.POSITIVE_INFINITY;
  const limits: number[] = [];
  if (budget.programs !== undefined) limits.push(budget.programs);
  if (budget.percent !== undefined) limits.push(Math.floor((fleetPrograms * budget.percent) / 100));
  return Math.max(1, Math.min(...limits));
}

/**
 * Admits candidates in order while the programs restarting (`inFlight`, already served and not yet
 * settled) plus theirs stay within the budget. A node that restarts nothing is always admitted; a
 * node bigger than the whole budget goes alone once nothing else restarts, so a rollout never
 * stalls on it. Pure.
 */
export function admitRestarts(
  budget: RestartBudget | undefined,
  fleetPrograms: number,
  inFlight: number,
  candidates: readonly RestartCandidate[],
): RestartAdmission {
  const limit = restartLimit(budget, fleetPrograms);
  const admitted: string[] = [];
  const waiting: string[] = [];
  let used = inFlight;
  for (const candidate of candidates) {
    const fits = candidate.restarts === 0 || used + candidate.restarts <= limit || used === 0;
    if (fits && (waiting.length === 0 || candidate.restarts === 0)) {
      admitted.push(candidate.node);
      used += candidate.restarts;
    } else waiting.push(candidate.node);
  }
  return { admitted, waiting, limit };
}

/**
 * Whether a node that applied a change is still restarting: a program not running, or with more
 * processes than its replicas (the old ones still draining after the rolling restart), still takes
 * workers out of service, so it still counts against the restart budget. Pure.
 */
export function stillRestarting(status: NodeStatus | undefined, config: Record<string, unknown>): boolean {
  if (status === undefined) return true;
  const programs = (config.programs ?? {}) as Record<string, { replicas?: unknown } | undefined>;
  for (const [name, program] of Object.entries(status.programs)) {
    const wanted = typeof programs[name]?.replicas === 'number' ? (programs[name]?.replicas as number) : 1;
    if (wanted > 0 && program.state !== 'running') return true;
    if (program.pids.length > wanted) return true;
  }
  return false;
}
