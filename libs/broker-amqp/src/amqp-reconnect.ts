/** `broker_connection_retry` and `broker_connection_max_retries` as the broker reads them (null: retry forever). */
export interface AmqpReconnectPolicy {
  retry: boolean;
  maxRetries: number | null;
}

/**
 * kombu's `ensure_connection` sleep before retry number `retries` (1-based): 2 s, 2 s more per
 * retry, at most 30 s; the first try after a loss is at once. The same schedule as the worker's
 * start-up retries (`kombuRetrySleepMs` in @celeriac/worker-runtime, which depends on this package).
 */
export function reconnectSleepMs(retries: number): number {
  return Math.min(2_000 + 2_000 * (retries - 1), 30_000);
}

/** The policy of a worker's or client's Celery settings (Celery's defaults: on, 100 retries). */
export function reconnectPolicyOf(settings: Readonly<Record<string, unknown>>): AmqpReconnectPolicy {
  const max = settings.broker_connection_max_retries;
  return {
    retry: settings.broker_connection_retry !== false,
    maxRetries: max === null ? null : typeof max === 'number' && Number.isInteger(max) && max >= 0 ? max : 100,
  };
}
