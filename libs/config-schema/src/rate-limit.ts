import type { Check } from './checks.js';
import { show } from './checks.js';

const RATE_LIMIT_HELP = 'use a number per second or "<n>/s", "<n>/m", "<n>/h"';

/** A rate limit as Celery writes it: a number per second, or "10/s", "10/m", "100/h". */
export const checkRateLimit: Check = (value, add) => {
  const ok =
    (typeof value === 'number' && Number.isFinite(value) && value >= 0) ||
    (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*(\/\s*[smh])?\s*$/.test(value));
  if (!ok) add([], `${show(value)} is not a rate limit; ${RATE_LIMIT_HELP}`);
};
