import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contentHash, DurationFormatError, parseDuration } from '../src/index.js';

describe('parseDuration', () => {
  it('reads ms, s, m, h and plain seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.25)).toBe(250);
  });

  it('refuses anything else with a code and a message saying what to write', () => {
    for (const bad of ['', '10x', '-5s', 'abc', '1d', -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseDuration(bad)).toThrow(DurationFormatError);
    }
    try {
      parseDuration('10x');
    } catch (error) {
      expect((error as DurationFormatError).code).toBe('CONFIG_DURATION_FORMAT');
      expect((error as Error).message).toContain('"10x" is not a duration');
    }
  });
});

describe('contentHash', () => {
  it('is a sha256 hex digest, equal under any key order', () => {
    const a = { b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'x' } };
    const b = { a: { c: 'x', d: [1, { x: 1, y: 2 }] }, b: 1 };
    expect(contentHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash(a)).toBe(contentHash(b));
  });

  it('differs when content differs, including array order', () => {
    expect(contentHash({ a: [1, 2] })).not.toBe(contentHash({ a: [2, 1] }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: '1' }));
  });

  it('is stable under key shuffles (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (dict) => {
        const shuffled = Object.fromEntries(Object.entries(dict).reverse());
        return contentHash(dict) === contentHash(shuffled);
      }),
    );
  });
});
