/** Kombu's token bucket: `ratePerSec` tokens per second, at most `capacity` saved up. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSec: number,
    readonly capacity = 1,
    nowMs = performance.now(),
  ) {
    this.tokens = capacity;
    this.lastMs = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.lastMs) / 1000) * this.ratePerSec);
      this.lastMs = nowMs;
    }
  }

  /** Takes one token if there is one. */
  tryTake(nowMs = performance.now()): boolean {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until one whole token is available (0 when one is). */
  msUntilToken(nowMs = performance.now()): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.ratePerSec) * 1000;
  }
}
