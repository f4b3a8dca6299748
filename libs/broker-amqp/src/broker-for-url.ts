import { type BrokerOptions, RedisBroker, type TaskBroker } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { AmqpBroker } from './amqp-broker.js';
import { isAmqpUrl } from './amqp-url.js';

/** What `brokerForUrl` needs: the URL picks the transport, the rest configures it. */
export interface BrokerForUrlOptions {
  url: string;
  logger: Logger;
  /** The app's Celery settings (queue table, priorities, queue types, TLS, reconnect and failover). */
  settings: Readonly<Record<string, unknown>>;
  /** Options of the Redis transport beyond url and logger (ownerId, visibility timeout, ...). */
  redis?: Omit<BrokerOptions, 'url' | 'logger'>;
  /** basic.qos prefetch count of a consuming AMQP broker (concurrency × multiplier). */
  prefetchCount?: number;
}

/**
 * The one place the transport is chosen: `amqp://`, `amqps://` and `pyamqp://` (or a `;` failover
 * list of them) give an `AmqpBroker` (RabbitMQ), anything else the `RedisBroker`. The worker and
 * the client call it. The AMQP broker reads `broker_use_ssl`, `broker_failover_strategy`,
 * `broker_connection_retry` and `broker_connection_max_retries` from the settings itself.
 */
export function brokerForUrl(o: BrokerForUrlOptions): TaskBroker {
  if (isAmqpUrl(o.url)) {
    return new AmqpBroker({
      url: o.url,
      logger: o.logger,
      settings: o.settings,
      ...(o.prefetchCount !== undefined ? { prefetchCount: o.prefetchCount } : {}),
      ...(typeof o.settings.broker_heartbeat === 'number' ? { heartbeatSec: o.settings.broker_heartbeat } : {}),
      ...(o.redis?.deadLetterMaxRawBytes !== undefined ? { deadLetterMaxRawBytes: o.redis.deadLetterMaxRawBytes } : {}),
      ...(o.redis?.deadLetterMaxEntries !== undefined ? { deadLetterMaxEntries: o.redis.deadLetterMaxEntries } : {}),
    });
  }
  return new RedisBroker({ url: o.url, logger: o.logger, ...o.redis });
}
