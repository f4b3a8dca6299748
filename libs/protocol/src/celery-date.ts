import { ProtocolEncodeError } from './errors.js';

function iso(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t))
    throw new ProtocolEncodeError('cannot format an invalid Date; pass a valid Date for eta/expires');
  return d.toISOString();
}

/**
 * `2026-11-24T21:32:01.881000+00:00`: six fractional digits and `+00:00`, because Celery 5.2.6
 * reads the fraction as a raw microsecond count (`.881Z` would mean 881 µs).
 */
export function formatCeleryDate(d: Date): string {
  return `${iso(d).slice(0, -1)}000+00:00`;
}

/** Naive UTC with microseconds, as Celery stores `date_done`: `2026-11-24T21:32:13.245331`. */
export function formatNaiveUtc(d: Date): string {
  return `${iso(d).slice(0, -1)}000`;
}

const DATE_RE =
  /^([+-]?\d{4,6})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Parses Celery/ISO-8601 dates: `+00:00` or other offsets, `Z`, or naive (taken as UTC). Null when invalid. */
export function parseCeleryDate(s: string): Date | null {
  if (typeof s !== 'string' || s.length > 64) return null;
  const m = DATE_RE.exec(s);
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const frac = m[7];
  const ms = frac === undefined ? 0 : Number(`${frac.slice(0, 3)}`.padEnd(3, '0'));
  let offsetMin = 0;
  const tz = m[8];
  if (tz !== undefined && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMin = sign * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  if (date.getUTCDate() !== day) return null;
  const t = date.getTime() - offsetMin * 60_000;
  return Number.isNaN(t) ? null : new Date(t);
}
