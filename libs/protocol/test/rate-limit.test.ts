import { describe, expect, it } from 'vitest';
import { parseRateLimit, RateLimitFormatError } from '../src/index.js';
import { loadFixture } from './support/fixtures.js';

describe('parseRateLimit', () => {
  const cases = loadFixture('routing_and_rate_limit_semantics').rate_limit_strings as Record<
    string,
    { per_second?: number; error?: string }
  >;

  // Keys are Python reprs: 'str', None or a number.
  const toJs = (k: string): string | number | null => {
    if (k === 'None') return null;
    if (k.startsWith("'")) return k.slice(1, -1);
    return Number(k);
  };

  it.each(Object.entries(cases))('matches Celery for %s', (key, want) => {
    const value = toJs(key);
    if (want.error !== undefined) {
      expect(() => parseRateLimit(value)).toThrow(RateLimitFormatError);
    } else {
      expect(parseRateLimit(value)).toBe(want.per_second === 0 ? null : want.per_second);
    }
  });

  it('accepts numbers and per-second strings', () => {
    expect(parseRateLimit(5)).toBe(5);
    expect(parseRateLimit(0.5)).toBe(0.5);
    expect(parseRateLimit('100/h')).toBe(100 / 60 / 60);
    expect(parseRateLimit('5/s')).toBe(5);
    expect(parseRateLimit(undefined)).toBeNull();
    expect(parseRateLimit('0/m')).toBeNull();
  });

  it.each(['10/M', '10/d', '10 per minute', 'ten', '-1', '10/m/s', '/m', '10/'])('refuses %s', (bad) => {
    expect(() => parseRateLimit(bad)).toThrow(RateLimitFormatError);
  });

  it('names the bad value and the accepted forms in the error', () => {
    try {
      parseRateLimit('10/min');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RateLimitFormatError);
      expect((err as RateLimitFormatError).code).toBe('PROTOCOL_RATE_LIMIT_FORMAT');
      expect((err as Error).message).toContain('"10/min"');
      expect((err as Error).message).toContain('/m');
    }
    expect(() => parseRateLimit(-2)).toThrow(RateLimitFormatError);
    expect(() => parseRateLimit(Number.POSITIVE_INFINITY)).toThrow(RateLimitFormatError);
  });
});
