import { amqpPlaneEndpoints, isAmqpUrl } from '@celeriac/broker-amqp';

/** A program's effective Celery settings (its `celery` section), as its worker reads them. */
export type BrokerSettings = Readonly<Record<string, unknown>>;

/**
 * What tells the agent's broker connections apart: the URL, and on RabbitMQ everything the
 * connection dials with (`amqpPlaneEndpoints`, the reader the worker's plane connection uses: the
 * failover list and strategy, `broker_use_ssl`, `broker_heartbeat`, `broker_connection_timeout`).
 * Programs that reach one broker with different TLS settings get a connection each, so one whose
 * settings cannot connect is reported, never answered for through another program's connection.
 */
export function brokerConnectionKey(url: string, settings: BrokerSettings = {}): string {
  if (!isAmqpUrl(url)) return url;
  try {
    return `${url}|${JSON.stringify(amqpPlaneEndpoints(url, settings))}`;
  } catch (error) {
    // A setting the connection refuses (AMQP_URL_INVALID): a key of its own, so the error is met,
    // and reported, where the connection is made.
    return `${url}|invalid|${(error as Error).message}`;
  }
}
