import type { Job } from './job-custody.js';

/** A job this worker moved to the delayed set, and when it is due. */
export interface DeferredJob {
  delivery: Job['delivery'];
  taskId: string;
  task: string;
  dueMs: number;
}

/** What a lane keeps of the jobs it sent to the delayed set (to space them, and respace them when its limit changes). */
export interface DeferralSpacing {
  /** Due time given to the last job of this lane sent to the delayed set. */
  lastDueMs: number;
  /** What this lane sent to the delayed set and is not due yet (as far as it knows): respaced when its limit changes. */
  deferred: DeferredJob[];
}

/** Deferred jobs a lane remembers for respacing at most; older ones keep the due times they got. */
const MAX_REMEMBERED_PER_LANE = 20_000;

/**
 * When a job sent to the delayed set should come back: after the ones ahead of it (the `waiting`
 * jobs held, then the ones deferred before), spaced by `perSec`.
 */
export function nextDueMs(spacing: DeferralSpacing, perSec: number, waiting: number): number {
  const now = Date.now();
  const spacingMs = 1000 / perSec;
  spacing.lastDueMs = Math.max(spacing.lastDueMs + spacingMs, now + (waiting + 1) * spacingMs);
  return Math.ceil(spacing.lastDueMs);
}

/** Notes a job sent to the delayed set, due at `dueMs` (bounded: the oldest are forgotten first). */
export function rememberDeferred(spacing: DeferralSpacing, job: Job, dueMs: number): void {
  if (spacing.deferred.length >= MAX_REMEMBERED_PER_LANE) {
    const now = Date.now();
    spacing.deferred = spacing.deferred.filter((d) => d.dueMs > now);
    if (spacing.deferred.length >= MAX_REMEMBERED_PER_LANE) spacing.deferred.shift();
  }
  spacing.deferred.push({ delivery: job.delivery, taskId: job.message.id, task: job.message.task, dueMs });
}

/**
 * Deferred jobs not due yet get due times at the new `perSec`, in their order (they were
 * spaced for the old one: a raised rate would otherwise reach them only as they come back).
 */
export function respaceDeferred(spacing: DeferralSpacing, perSec: number, waiting: number): DeferredJob[] {
  const now = Date.now();
  const pending = spacing.deferred.filter((d) => d.dueMs > now).sort((a, b) => a.dueMs - b.dueMs);
  spacing.deferred = pending.map((d) => ({ ...d, dueMs: nextDueMs(spacing, perSec, waiting) }));
  return spacing.deferred;
}
