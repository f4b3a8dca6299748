import { DurationFormatError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/** Reads '500ms' | '30s' | '2m' | '1h' or a number of seconds; returns whole milliseconds. Throws DurationFormatError. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new DurationFormatError(value);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') throw new DurationFormatError(value);
  const match = DURATION.exec(value.trim());
  if (!match) throw new DurationFormatError(value);
  const amount = Number(match[1]);
  const unit = UNIT_MS[match[2] ?? 's'] as number;
  return Math.round(amount * unit);
}
