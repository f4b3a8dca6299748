/** Capped exponential backoff with jitter. */
export interface BackoffOptions {
  /** Delay after the first failure. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per failure; 2 doubles. */
  factor?: number;
  /** Fraction of the delay randomised either way (0.2 → ±20 %), so that many agents do not retry in step. */
  jitter?: number;
}

/** Delay before retry number `attempt` (0-based): `initial * factor^attempt`, jittered, never above `maxMs`. */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(options.maxMs, options.initialMs * factor ** Math.max(0, attempt));
  const jittered = base * (1 - jitter + 2 * jitter * random());
  return Math.max(0, Math.min(options.maxMs, Math.round(jittered)));
}
