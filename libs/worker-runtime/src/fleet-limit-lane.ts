import type { FleetLimit } from '@celeriac/broker';
import { type DeferralSpacing, type DeferredJob, nextDueMs, respaceDeferred } from './fleet-limit-deferral.js';
import type { RateTokenStash } from './fleet-limit-rate-tokens.js';
import type { Job } from './job-custody.js';

/** What a lane waits for: tokens of a limit's bucket, or one of its concurrency slots. */
export type StageKind = 'rate' | 'slot';

/** The jobs waiting for one fleet limit (and one key value of a per-key limit), with its bookkeeping. */
export interface Lane extends RateTokenStash, DeferralSpacing {
  id: string;
  kind: StageKind;
  limit: FleetLimit;
  keyValue: string | null;
  waiting: Job[];
  busy: boolean;
  timer: NodeJS.Timeout | null;
  /** When the pending timer fires (performance.now()). */
  timerAt: number;
  /**
   * The limit binds: the last answer gave fewer than asked for. Only then do its waiting jobs
   * leave the prefetch count (so other tasks keep flowing) and the surplus go to the delayed set;
   * under a limit not reached they count as any held job, and nothing is deferred.
   */
  throttled: boolean;
  /** A slot lane: how long its jobs held their slots, on average (ms; 0 before the first). */
  avgHoldMs: number;
}

/** A rate lane holds about this much of its rate in memory; the rest goes to the delayed set. */
const HOLD_SEC = 2;
/** Most held per lane, whatever the rate. */
const MAX_HELD_PER_LANE = 200;

/** The id of the lane of `kind` for `limit` and `keyValue`. */
export function laneId(kind: StageKind, limit: FleetLimit, keyValue: string | null): string {
  return `${kind}:${limit.id}\u0000${keyValue ?? ''}`;
}

/** A new, empty lane. */
export function newLane(kind: StageKind, limit: FleetLimit, keyValue: string | null): Lane {
  return {
    id: laneId(kind, limit, keyValue),
    kind,
    limit,
    keyValue,
    waiting: [],
    busy: false,
    timer: null,
    timerAt: 0,
    stash: 0,
    stashUntil: 0,
    extra: 0,
    lastDueMs: 0,
    deferred: [],
    throttled: false,
    avgHoldMs: 0,
  };
}

/** Most jobs the lane holds while its limit binds; the rest go to the delayed set. */
export function maxHeldIn(lane: Lane): number {
  const limit = lane.limit;
  const n =
    lane.kind === 'rate' ? Math.ceil((limit.ratePerSec as number) * HOLD_SEC) : (limit.concurrency as number) * 2;
  return Math.max(1, Math.min(MAX_HELD_PER_LANE, n));
}

/**
 * Takes the first `granted` waiting jobs out of the lane, or for a slot lane the first `granted`
 * of `jobs` (the ones asked for, which may have left the lane meanwhile).
 */
export function takeGranted(lane: Lane, granted: number, jobs?: Job[]): Job[] {
  const out = jobs === undefined ? lane.waiting.splice(0, granted) : jobs.slice(0, granted);
  if (jobs !== undefined) {
    const taken = new Set(out);
    lane.waiting = lane.waiting.filter((j) => !taken.has(j));
  }
  return out;
}

/** Folds how long a job of a slot lane held its slot into the lane's average. */
export function recordHold(lane: Lane, ms: number): void {
  lane.avgHoldMs = lane.avgHoldMs === 0 ? ms : lane.avgHoldMs * 0.8 + ms * 0.2;
}

/** Jobs a second the lane lets through, fleet-wide (what deferred jobs are spaced by). */
function ratePerSecOf(lane: Lane): number {
  // A slot lane runs about concurrency / (time a slot is held) a second, fleet-wide.
  return lane.kind === 'rate'
    ? (lane.limit.ratePerSec as number)
    : (lane.limit.concurrency as number) / (Math.max(50, lane.avgHoldMs || 1_000) / 1000);
}

/** When a job of this lane sent to the delayed set should come back: after the ones ahead of it, spaced by the rate. */
export function laneDueMs(lane: Lane): number {
  return nextDueMs(lane, ratePerSecOf(lane), lane.waiting.length);
}

/** The lane's deferred jobs not due yet, with due times at its (new) limit. */
export function respaceLane(lane: Lane): DeferredJob[] {
  return respaceDeferred(lane, ratePerSecOf(lane), lane.waiting.length);
}
