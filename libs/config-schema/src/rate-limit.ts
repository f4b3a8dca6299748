import { parseRateLimit } from '@celeriac/protocol';
import type { Check } from './checks.js';
import { show } from './checks.js';

const RATE_LIMIT_HELP = 'use a number per second or "<n>/s", "<n>/m", "<n>/h"';

/** A rate limit as Celery writes it: a number per second, or "10/s", "10/m", "100/h" (read by the protocol's parser). */
export const checkRateLimit: Check = (value, add) => {
  if (typeof value !== 'string' && typeof value !== 'number') {
    add([], `${show(value)} is not a rate limit; ${RATE_LIMIT_HELP}`);
    return;
  }
  try {
    parseRateLimit(value);
  } catch {
    add([], `${show(value)} is not a rate limit; ${RATE_LIMIT_HELP}`);
  }
};
