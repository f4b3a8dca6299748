import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../src/backoff.js';
import { CrashBackoff } from '../src/crash-backoff.js';

describe('backoffDelayMs', () => {
  it('grows exponentially and is capped', () => {
    const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelayMs(n, options))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('jitters within the given fraction and never above the cap', () => {
    const options = { initialMs: 1000, maxMs: 5000, jitter: 0.2 };
    expect(backoffDelayMs(0, options, () => 0)).toBe(800);
    expect(backoffDelayMs(0, options, () => 1)).toBe(1200);
    expect(backoffDelayMs(9, options, () => 1)).toBe(5000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(1, options);
      expect(d).toBeGreaterThanOrEqual(1600);
      expect(d).toBeLessThanOrEqual(2400);
    }
  });
});

describe('CrashBackoff', () => {
  const options = { initialMs: 100, maxMs: 1000, jitter: 0, stableAfterMs: 10_000, maxQuickFailures: 4 };

  it('backs off exponentially on quick failures and goes FATAL after the limit', () => {
    const b = new CrashBackoff(options);
    let now = 0;
    const decisions = [];
    for (let i = 0; i < 4; i++) {
      b.started(now);
      now += 50;
      decisions.push(b.exited(now));
    }
    expect(decisions).toEqual([
      { action: 'restart', delayMs: 100, quickFailures: 1 },
      { action: 'restart', delayMs: 200, quickFailures: 2 },
      { action: 'restart', delayMs: 400, quickFailures: 3 },
      { action: 'fatal', quickFailures: 4 },
    ]);
  });

  it('resets after a stable period and on reset()', () => {
    const b = new CrashBackoff(options);
    b.started(0);
    b.exited(10);
    b.started(20);
    expect(b.exited(30)).toMatchObject({ delayMs: 200 });
    b.started(100);
    expect(b.exited(100 + 10_000)).toEqual({ action: 'restart', delayMs: 100, quickFailures: 1 });
    b.started(20_000);
    b.exited(20_001);
    b.reset();
    b.started(30_000);
    expect(b.exited(30_001)).toMatchObject({ quickFailures: 1, delayMs: 100 });
  });
});
