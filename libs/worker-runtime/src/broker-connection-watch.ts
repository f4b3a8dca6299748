import type { Logger } from '@celeriac/logger';
import { redactUrl } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import { REDIS_URL_SCHEMES, urlScheme } from '@celeriac/redis-connection/url';
import { kombuRetrySleepMs } from './broker-connection-retry.js';
import type { WorkerSettings } from './worker-settings.js';
import type { WorkerState } from './worker-state.js';

/** The worker calls the watch needs. */
interface WatchedWorker {
  on(event: 'state', listener: (state: WorkerState) => void): unknown;
  fail(error: unknown): Promise<void>;
}

/** How long kombu's `ensure_connection` goes on before giving up after `maxRetries` retries (its sleeps summed). */
export function kombuRetryBudgetMs(maxRetries: number): number {
  let total = 0;
  for (let retries = 1; retries <= maxRetries; retries += 1) total += kombuRetrySleepMs(retries);
  return total;
}

/**
 * Celery 5.2 on losing the broker connection while running: with `broker_connection_retry` off
 * the consumer re-raises and the worker exits; on, it reconnects with kombu's retries and exits
 * once `broker_connection_max_retries` are spent. A connection of its own (role `broker-watch`)
 * sees the loss: off, the worker fails at once (`worker.broker_connection_lost`); on, it fails
 * when the broker stays unreachable longer than kombu's sleeps for that many retries would take
 * (null: never). ioredis reconnects the worker's connections meanwhile. Closed with the worker.
 * Redis brokers only.
 */
export async function watchBrokerConnection(
  worker: WatchedWorker,
  policy: WorkerSettings['brokerConnectionRetry'],
  brokerUrl: string,
  logger: Logger,
): Promise<void> {
  if (policy.retry && policy.maxRetries === null) return;
  // A RabbitMQ broker (another transport) is not watched here.
  if (!(REDIS_URL_SCHEMES as readonly string[]).includes(urlScheme(brokerUrl) ?? '')) return;
  const url = redactUrl(brokerUrl);
  const redis = createRedisConnection(brokerUrl, 'broker-watch', logger);
  await redis.connect();
  let lostTimer: NodeJS.Timeout | undefined;
  let over = false;
  const give = (why: string) => {
    if (over) return;
    over = true;
    const error = new Error(`connection to broker ${url} lost: ${why}`);
    logger.error({ event: 'worker.broker_connection_lost', url, err: error }, `consumer: ${error.message}`);
    void closeRedisConnection(redis);
    void worker.fail(error);
  };
  redis.on('close', () => {
    if (over || lostTimer !== undefined) return;
    if (!policy.retry) return give('broker_connection_retry is off, not reconnecting');
    const budgetMs = kombuRetryBudgetMs(policy.maxRetries as number);
    lostTimer = setTimeout(
      () => give(`gave up after ${policy.maxRetries} retries (broker_connection_max_retries)`),
      budgetMs,
    );
    lostTimer.unref();
  });
  redis.on('ready', () => {
    clearTimeout(lostTimer);
    lostTimer = undefined;
  });
  worker.on('state', (state) => {
    if (state !== 'draining' && state !== 'stopped' && state !== 'failed') return;
    over = true;
    clearTimeout(lostTimer);
    void closeRedisConnection(redis);
  });
}
