import { amqpPlaneEndpoints, isAmqpUrl } from '@celeriac/broker-amqp';
import { redisUrlFromSettings } from '@celeriac/redis-connection/url';

/** A program's effective Celery settings (its `celery` section), as its worker reads them. */
export type BrokerSettings = Readonly<Record<string, unknown>>;

/**
 * The URL the agent dials for a program on a Redis broker: its `broker_url` (`url`) with
 * `broker_use_ssl` (ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs),
 * `broker_transport_options` (master_name, sentinel_kwargs with TLS) and
 * `broker_failover_strategy` folded in by `redisUrlFromSettings`, the reader the program's worker
 * connects with, so the probe and the task events reach the broker exactly as the worker does.
 * Throws `RedisUrlError` for settings the worker would refuse too.
 */
export function redisBrokerDialUrl(url: string, settings: BrokerSettings = {}): string {
  return redisUrlFromSettings('broker', { ...settings, broker_url: url });
}

/**
 * What tells the agent's broker connections apart: the URL, and everything the connection dials
 * with. On RabbitMQ `amqpPlaneEndpoints` (the reader the worker's plane connection uses: the
 * failover list and strategy, `broker_use_ssl`, `broker_heartbeat`, `broker_connection_timeout`);
 * on Redis the URL with the settings folded in (`redisBrokerDialUrl`). Programs that reach one
 * broker with different TLS settings get a connection each, so one whose settings cannot connect
 * is reported, never answered for through another program's connection. The key holds passwords:
 * it is never logged.
 */
export function brokerConnectionKey(url: string, settings: BrokerSettings = {}): string {
  try {
    if (isAmqpUrl(url)) return `${url}|${JSON.stringify(amqpPlaneEndpoints(url, settings))}`;
    return `${url}|${redisBrokerDialUrl(url, settings)}`;
  } catch (error) {
    // A setting the connection refuses (AMQP_URL_INVALID, RedisUrlError): a key of its own, so the
    // error is met, and reported, where the connection is made.
    return `${url}|invalid|${(error as Error).message}`;
  }
}
