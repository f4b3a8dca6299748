import type { AmqpConnectionChange } from '@celeriac/broker-amqp';
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

/** What an AMQP broker reports of its connection (`AmqpBroker.onConnectionChange`). */
export interface ConnectionReportingBroker {
  onConnectionChange(listener: (change: AmqpConnectionChange) => void): () => void;
}

/**
 * How the worker ends when its broker connection is lost for good, whichever transport saw it:
 * `worker.broker_connection_lost` logged with the (redacted) URL and why, then `worker.fail`
 * (state `failed`, the CLI's failure exit code), as Celery's consumer re-raises and exits.
 */
function endOnBrokerLoss(worker: WatchedWorker, shownUrl: string, why: string, logger: Logger, cause?: Error): void {
  const error = new Error(`connection to broker ${shownUrl} lost: ${why}`, cause !== undefined ? { cause } : {});
  logger.error({ event: 'worker.broker_connection_lost', url: shownUrl, err: error }, `consumer: ${error.message}`);
  void worker.fail(error);
}

/** Why the connection is gone for good under `policy`, in the words of the log line. */
function gaveUpReason(policy: WorkerSettings['brokerConnectionRetry']): string {
  return policy.retry
    ? `gave up after ${policy.maxRetries} retries (broker_connection_max_retries)`
    : 'broker_connection_retry is off, not reconnecting';
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
 * Redis brokers only (see `watchAmqpBrokerConnection`).
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
  const give = () => {
    if (over) return;
    over = true;
    void closeRedisConnection(redis);
    endOnBrokerLoss(worker, url, gaveUpReason(policy), logger);
  };
  redis.on('close', () => {
    if (over || lostTimer !== undefined) return;
    if (!policy.retry) return give();
    lostTimer = setTimeout(give, kombuRetryBudgetMs(policy.maxRetries as number));
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

/**
 * The same end for a RabbitMQ broker, which reconnects by itself (kombu's sleeps, the failover
 * list) and reports `failed` once `broker_connection_retry` is off or its
 * `broker_connection_max_retries` are spent: the worker then fails as on Redis. Unsubscribes when
 * the worker drains, stops or fails.
 */
export function watchAmqpBrokerConnection(
  worker: WatchedWorker,
  broker: ConnectionReportingBroker,
  policy: WorkerSettings['brokerConnectionRetry'],
  brokerUrl: string,
  logger: Logger,
): void {
  const url = redactUrl(brokerUrl);
  const unsubscribe = broker.onConnectionChange((change) => {
    if (change.state !== 'failed') return;
    unsubscribe();
    // The broker's BROKER_UNAVAILABLE wraps why it stopped (retry off, retries spent, a refused certificate).
    const why = change.error?.cause instanceof Error ? change.error.cause.message : gaveUpReason(policy);
    endOnBrokerLoss(worker, url, why, logger, change.error);
  });
  worker.on('state', (state) => {
    if (state === 'draining' || state === 'stopped' || state === 'failed') unsubscribe();
  });
}
