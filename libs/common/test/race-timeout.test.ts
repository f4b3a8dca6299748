import { describe, expect, it } from 'vitest';
import { raceTimeout, sleep, TIMED_OUT } from '../src/index.js';

describe('raceTimeout', () => {
  it('resolves with the value when the promise wins', async () => {
    expect(await raceTimeout(Promise.resolve(7), 1_000)).toBe(7);
  });

  it('resolves with TIMED_OUT when the deadline wins', async () => {
    const started = Date.now();
    expect(await raceTimeout(new Promise(() => undefined), 30)).toBe(TIMED_OUT);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('passes a rejection through', async () => {
    await expect(raceTimeout(Promise.reject(new Error('boom')), 1_000)).rejects.toThrow('boom');
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 10);
    await sleep(5_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
