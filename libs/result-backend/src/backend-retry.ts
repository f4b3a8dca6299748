import { setTimeout as sleep } from 'node:timers/promises';

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
