import { RateLimitFormatError } from './errors.js';

const RATE_RE = /^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?:\/(s|m|h))?$/;
// Same arithmetic as Celery (r / 60.0 / 60.0 for hours) so the floats match exactly.
const TO_PER_SECOND = {
  s: (r: number) => r,
  m: (r: number) => r / 60,
  h: (r: number) => r / 60 / 60,
} as const;

/**
 * Celery's rate-limit setting as tasks per second: a number, or `"<float>[/s|/m|/h]"` (no unit = per
 * second, units lower-case only). `0`, `"0"`, `""`, null and undefined mean unlimited (null).
 * Throws RateLimitFormatError for anything else.
 */
export function parseRateLimit(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RateLimitFormatError(value);
    return value === 0 ? null : value;
  }
  if (typeof value !== 'string') throw new RateLimitFormatError(value);
  const m = RATE_RE.exec(value);
  if (m === null) throw new RateLimitFormatError(value);
  const amount = Number(m[1]);
  if (!Number.isFinite(amount)) throw new RateLimitFormatError(value);
  const perSecond = TO_PER_SECOND[(m[2] ?? 's') as 's' | 'm' | 'h'](amount);
  return perSecond === 0 ? null : perSecond;
}
