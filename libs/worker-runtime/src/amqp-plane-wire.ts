import {
  AmqpControlConnection,
  AmqpEventTransport,
  AmqpPidboxClient,
  AmqpPidboxNode,
  amqpPlaneSettings,
} from '@celeriac/broker-amqp';
import type { Logger } from '@celeriac/logger';
import type { PlaneWire } from './worker-plane.js';

/**
 * The control and event plane of a worker on RabbitMQ: the pidbox node, mingle's client and the
 * celeryev publisher share one AMQP connection of their own (apart from the task broker's).
 * Revoked ids are shared through the result backend's Redis when there is one (Celery users run a
 * RabbitMQ broker with Redis results); without it they stay in the worker (RevokedSet says so).
 */
export function amqpPlaneWire(o: {
  brokerUrl: string;
  resultBackendUrl: string | null;
  hostname: string;
  logger: Logger;
  /**
   * The app's Celery settings: `control_queue_ttl`, `control_queue_expires`, and what the
   * connection reads as the task broker's does (`broker_use_ssl`, `broker_failover_strategy`,
   * `broker_heartbeat`, `broker_connection_timeout`).
   */
  settings: Readonly<Record<string, unknown>>;
}): PlaneWire {
  const { heartbeatSec: _inEndpoints, ...queues } = amqpPlaneSettings(o.settings);
  const connection = new AmqpControlConnection({
    url: o.brokerUrl,
    settings: o.settings,
    logger: o.logger,
    connectionName: `celeriac control plane ${o.hostname}`,
  });
  return {
    node: new AmqpPidboxNode({ connection, logger: o.logger, ...queues }),
    client: () => new AmqpPidboxClient({ connection, logger: o.logger, ...queues }),
    events: new AmqpEventTransport({ connection }),
    revokeRedisUrl: o.resultBackendUrl,
    close: () => connection.close(),
  };
}
