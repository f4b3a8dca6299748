import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@celeriac/logger';
import { redactUrl } from '@celeriac/logger';
import type { WorkerSettings } from './worker-settings.js';

/** kombu's `ensure_connection` defaults, which Celery's consumer keeps: 2 s, then 2 s more per retry, at most 30 s. */
const INTERVAL_START_MS = 2_000;
const INTERVAL_STEP_MS = 2_000;
const INTERVAL_MAX_MS = 30_000;

/** kombu's sleep before retry number `retries` (1-based): 2, 4, 6 ... 30 s. */
export function kombuRetrySleepMs(retries: number): number {
  return Math.min(INTERVAL_START_MS + INTERVAL_STEP_MS * (retries - 1), INTERVAL_MAX_MS);
}

/** Errors of a connect that another try may cure: Redis not reachable (not a refused TLS certificate). */
function recoverable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'BROKER_UNAVAILABLE' && code !== 'RESULT_BACKEND_UNAVAILABLE') return false;
  const cause = (error as { cause?: unknown }).cause;
  return !(cause instanceof Error && cause.name === 'RedisTlsError');
}

/**
 * Connects at worker start as Celery 5.2's consumer does (`ensure_connected`): with
 * `broker_connection_retry` off, one try and its error; on, kombu's `ensure_connection` retries
 * with 2, 4, 6 ... 30 s sleeps, at most `broker_connection_max_retries` times (null: forever),
 * each failure logged (`worker.broker_connection_retry`) as Celery's "Cannot connect to ...
 * Trying again in N seconds... (n/max)". The final failure is logged as
 * `worker.broker_connection_failed` naming the setting that ended it, and thrown. `stopped()`
 * ends the waiting (a shutdown during start-up).
 */
export async function connectWithRetry<T>(
  policy: WorkerSettings['brokerConnectionRetry'],
  brokerUrl: string,
  logger: Logger,
  connect: () => Promise<T>,
  stopped: () => boolean = () => false,
): Promise<T> {
  const url = redactUrl(brokerUrl);
  for (let retries = 0; ; ) {
    try {
      return await connect();
    } catch (error) {
      const exhausted = policy.maxRetries !== null && retries >= policy.maxRetries;
      if (!policy.retry || exhausted || !recoverable(error) || stopped()) {
        const why = !policy.retry
          ? 'broker_connection_retry is off'
          : exhausted
            ? `gave up after ${retries} retries (broker_connection_max_retries = ${policy.maxRetries})`
            : 'not retried';
        logger.error(
          { event: 'worker.broker_connection_failed', url, retries, err: error },
          `consumer: Cannot connect to ${url}: ${(error as Error).message}; ${why}`,
        );
        throw error;
      }
      retries += 1;
      const sleepMs = kombuRetrySleepMs(retries);
      logger.error(
        {
          event: 'worker.broker_connection_retry',
          url,
          retries,
          max_retries: policy.maxRetries,
          sleep_ms: sleepMs,
          err: error,
        },
        `consumer: Cannot connect to ${url}: ${(error as Error).message}. Trying again in ${(sleepMs / 1000).toFixed(2)} seconds... (${retries}/${policy.maxRetries ?? 'forever'})`,
      );
      await sleep(sleepMs);
      if (stopped()) throw error;
    }
  }
}
