/** Tokens a rate lane took from the fleet bucket beyond the jobs of its batch. */
export interface RateTokenStash {
  /** Tokens taken from the fleet bucket and not spent yet (a rate lane under light load). */
  stash: number;
  stashUntil: number;
  /** Ask for this many extra tokens with the next batch (the bucket had plenty last time). */
  extra: number;
}

/** Unspent tokens of a batch are dropped after this (they were counted by the fleet bucket already). */
const STASH_MS = 250;

/** Keeps `tokens` granted and not spent, for the jobs that follow within a short while. */
export function stashTokens(stash: RateTokenStash, tokens: number): void {
  stash.stash = tokens;
  stash.stashUntil = performance.now() + STASH_MS;
}

/** Spends one stashed token; false when none is left or they expired. */
export function takeStashedToken(stash: RateTokenStash): boolean {
  if (stash.stash <= 0) return false;
  if (performance.now() > stash.stashUntil) {
    stash.stash = 0;
    return false;
  }
  stash.stash--;
  return true;
}
