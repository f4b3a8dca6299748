import { setTimeout as sleep } from 'node:timers/promises';
import { ResultBackendArgumentError } from './errors.js';

/**
 * Celery's result backend retry settings: with `always` (`result_backend_always_retry`), a store
 * or read that fails because Redis did not serve it is tried again, at most `maxRetries` times
 * (`result_backend_max_retries`, Infinity by default), sleeping Celery's exponential backoff with
 * full jitter between tries (`result_backend_base_sleep_between_retries_ms`,
 * `result_backend_max_sleep_between_retries_ms`).
 */
export interface ResultBackendRetry {
  always: boolean;
  maxRetries: number;
  baseSleepMs: number;
  maxSleepMs: number;
}

/** Celery's defaults: no retry (10 ms base, 10 s cap, no bound on tries when it is on). */
export const RESULT_BACKEND_RETRY_DEFAULTS: ResultBackendRetry = {
  always: false,
  maxRetries: Number.POSITIVE_INFINITY,
  baseSleepMs: 10,
  maxSleepMs: 10_000,
};

function numberOf(
  settings: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const value = settings[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new ResultBackendArgumentError(
      `Setting ${name} must be ${integer ? 'an integer' : 'a number'} >= 0, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The retry of Celery's settings `result_backend_always_retry`, `result_backend_max_retries`
 * (null or unset: no bound), `result_backend_base_sleep_between_retries_ms` and
 * `result_backend_max_sleep_between_retries_ms`; the client and the worker both read them so.
 * A value of the wrong type throws `ResultBackendArgumentError` (RESULT_BACKEND_BAD_ARGUMENT).
 */
export function resultBackendRetryFromSettings(settings: Readonly<Record<string, unknown>>): ResultBackendRetry {
  const always = settings.result_backend_always_retry;
  if (always !== undefined && always !== null && typeof always !== 'boolean') {
    throw new ResultBackendArgumentError(
      `Setting result_backend_always_retry must be true or false, got ${JSON.stringify(always)}`,
    );
  }
  const d = RESULT_BACKEND_RETRY_DEFAULTS;
  return {
    always: always === true,
    maxRetries: numberOf(settings, 'result_backend_max_retries', d.maxRetries, true),
    baseSleepMs: numberOf(settings, 'result_backend_base_sleep_between_retries_ms', d.baseSleepMs, false),
    maxSleepMs: numberOf(settings, 'result_backend_max_sleep_between_retries_ms', d.maxSleepMs, false),
  };
}

/** Celery's `get_exponential_backoff_interval(base, retries, max, full_jitter=True)`, in ms. */
export function backendRetrySleepMs(retry: ResultBackendRetry, retries: number): number {
  const countdown = Math.min(retry.maxSleepMs, retry.baseSleepMs * 2 ** retries);
  return Math.max(0, Math.floor(Math.random() * (Math.floor(countdown) + 1)));
}

/**
 * Runs `fn`, trying again as {@link ResultBackendRetry} says while `retryable(error)` holds;
 * `onRetry` hears each failure that is retried. The last error is thrown as it is.
 */
export async function withBackendRetry<T>(
  retry: ResultBackendRetry,
  retryable: (error: unknown) => boolean,
  onRetry: (error: unknown, retries: number, sleepMs: number) => void,
  fn: () => Promise<T>,
): Promise<T> {
  for (let retries = 0; ; ) {
    try {
      return await fn();
    } catch (error) {
      if (!retry.always || retries >= retry.maxRetries || !retryable(error)) throw error;
      retries += 1;
      const sleepMs = backendRetrySleepMs(retry, retries);
      onRetry(error, retries, sleepMs);
      await sleep(sleepMs);
    }
  }
}
