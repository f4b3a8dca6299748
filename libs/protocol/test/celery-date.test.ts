import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatCeleryDate, formatNaiveUtc, parseCeleryDate } from '../src/index.js';
import { loadFixture } from './support/fixtures.js';

describe('Celery dates', () => {
  it('formats with 6 fractional digits and +00:00', () => {
    const d = new Date('2026-11-24T21:32:01.881Z');
    expect(formatCeleryDate(d)).toBe('2026-11-24T21:32:01.881000+00:00');
    expect(formatCeleryDate(new Date('2026-01-02T03:04:05.000Z'))).toBe('2026-01-02T03:04:05.000000+00:00');
  });

  it('formats date_done as naive UTC with microseconds', () => {
    expect(formatNaiveUtc(new Date('2026-11-24T21:32:13.245Z'))).toBe('2026-11-24T21:32:13.245000');
    const captured = loadFixture('a_add_json').result_backend['c3a6c083-8a77-4b49-ab02-48beb314f8aa'].decoded.date_done;
    expect(formatNaiveUtc(new Date(0))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(captured).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('parses +00:00, Z, naive, other offsets and fixture values', () => {
    const want = Date.UTC(2026, 10, 24, 21, 32, 1, 881);
    expect(parseCeleryDate('2026-11-24T21:32:01.881766+00:00')?.getTime()).toBe(want);
    expect(parseCeleryDate('2026-11-24T21:32:01.881Z')?.getTime()).toBe(want);
    expect(parseCeleryDate('2026-11-24T21:32:01.881')?.getTime()).toBe(want);
    expect(parseCeleryDate('2026-11-24T23:32:01.881+02:00')?.getTime()).toBe(want);
    expect(parseCeleryDate('2026-11-24T16:32:01.881-0500')?.getTime()).toBe(want);
    expect(parseCeleryDate('2026-11-24T21:32:01.8+00:00')?.getTime()).toBe(Date.UTC(2026, 10, 24, 21, 32, 1, 800));
    expect(parseCeleryDate('2026-11-24 21:32:01')?.getTime()).toBe(Date.UTC(2026, 10, 24, 21, 32, 1));
    expect(parseCeleryDate(loadFixture('c_countdown_eta').broker.message.envelope.headers.eta)).toBeInstanceOf(Date);
  });

  it('returns null for invalid dates', () => {
    for (const s of [
      '',
      'tomorrow',
      '2026-13-01T00:00:00',
      '2026-02-30T00:00:00',
      '2026-11-24T25:00:00',
      '2026-11-24Tx',
    ]) {
      expect(parseCeleryDate(s), s).toBeNull();
    }
  });

  it('round-trips format → parse', () => {
    const d = new Date(1795555933245);
    expect(parseCeleryDate(formatCeleryDate(d))?.getTime()).toBe(d.getTime());
    expect(parseCeleryDate(formatNaiveUtc(d))?.getTime()).toBe(d.getTime());
  });

  it('is read by Celery 5.2.6 with the right microseconds (not the .881 → 881 µs quirk)', () => {
    const d = new Date('2026-11-24T21:32:01.881Z');
    const out = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import sys; from celery.utils.iso8601 import parse_iso8601; print(parse_iso8601(sys.argv[1]).isoformat())',
        formatCeleryDate(d),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(out.trim()).toBe('2026-11-24T21:32:01.881000+00:00');
  });
});
