import { type BackoffOptions, backoffDelayMs } from './backoff.js';

/** How a supervised process is restarted after it dies. */
export interface CrashBackoffOptions extends Partial<BackoffOptions> {
  /** A process that ran at least this long counts as stable: its failure count resets. */
  stableAfterMs?: number;
  /** After this many quick failures in a row the program is FATAL and no longer restarted. */
  maxQuickFailures?: number;
}

/** What to do after an exit. */
export type CrashDecision =
  | { action: 'restart'; delayMs: number; quickFailures: number }
  | { action: 'fatal'; quickFailures: number };

/**
 * Supervisord-style crash policy for one replica slot: capped exponential backoff between
 * restarts, reset once a process has stayed up for `stableAfterMs`, and FATAL after
 * `maxQuickFailures` quick failures in a row.
 */
export class CrashBackoff {
  private quickFailures = 0;
  private startedAt: number | null = null;
  private readonly backoff: BackoffOptions;
  private readonly stableAfterMs: number;
  private readonly maxQuickFailures: number;

  constructor(
    options: CrashBackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.backoff = {
      initialMs: options.initialMs ?? 500,
      maxMs: options.maxMs ?? 30_000,
      factor: options.factor ?? 2,
      jitter: options.jitter ?? 0.1,
    };
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    this.maxQuickFailures = options.maxQuickFailures ?? 5;
  }

  /** Records that a process was started in this slot. */
  started(nowMs: number = Date.now()): void {
    this.startedAt = nowMs;
  }

  /** Records an unexpected exit and decides: restart after a delay, or give up (FATAL). */
  exited(nowMs: number = Date.now()): CrashDecision {
    const ranMs = this.startedAt === null ? 0 : nowMs - this.startedAt;
    this.startedAt = null;
    if (ranMs >= this.stableAfterMs) this.quickFailures = 0;
    this.quickFailures += 1;
    if (this.quickFailures >= this.maxQuickFailures) return { action: 'fatal', quickFailures: this.quickFailures };
    return {
      action: 'restart',
      delayMs: backoffDelayMs(this.quickFailures - 1, this.backoff, this.random),
      quickFailures: this.quickFailures,
    };
  }

  /** Forgets past failures (a new config was applied to the slot). */
  reset(): void {
    this.quickFailures = 0;
    this.startedAt = null;
  }
}
