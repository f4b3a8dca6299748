import { type AmqpEndpoints, connectTimeoutMsOf } from './amqp-connector.js';
import { parseFailoverStrategy } from './amqp-failover.js';
import { CONTROL_QUEUE_EXPIRES_MS, CONTROL_QUEUE_TTL_MS, type PidboxQueueLimits } from './amqp-pidbox-queues.js';
import { parseAmqpUseSsl } from './amqp-tls-options.js';
import { parseAmqpUrlList } from './amqp-url.js';

/** What Celery settings say about the control plane's RabbitMQ side. */
export interface AmqpPlaneSettings extends PidboxQueueLimits {
  /** `broker_heartbeat` (seconds), when set (`amqpPlaneEndpoints` applies it to the connection). */
  heartbeatSec?: number;
}

/** Seconds (Celery's float) as ms; null when the setting is None; the default when it is not a number. */
function secondsMs(value: unknown, defaultMs: number): number | null {
  if (value === null) return null;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value * 1000 : defaultMs;
}

/**
 * Celery's `control_queue_ttl` / `control_queue_expires` (the pidbox queues' `x-message-ttl` and
 * `x-expires`, None for none) and `broker_heartbeat`, read as Celery 5.2 reads them.
 */
export function amqpPlaneSettings(settings: Readonly<Record<string, unknown>>): AmqpPlaneSettings {
  return {
    queueTtlMs: secondsMs(settings.control_queue_ttl, CONTROL_QUEUE_TTL_MS),
    queueExpiresMs: secondsMs(settings.control_queue_expires, CONTROL_QUEUE_EXPIRES_MS),
    ...(typeof settings.broker_heartbeat === 'number' ? { heartbeatSec: settings.broker_heartbeat } : {}),
  };
}

/**
 * Where and how the control plane connects, from the same settings the task broker reads: the
 * `;` failover list of `url`, `broker_failover_strategy`, `broker_use_ssl`, `broker_heartbeat`
 * (120 s by default) and `broker_connection_timeout` (kombu's 4 s; 0 or None: the OS's).
 * AMQP_URL_INVALID when one of them is wrong, as the broker reports it.
 */
export function amqpPlaneEndpoints(url: string, settings: Readonly<Record<string, unknown>>): AmqpEndpoints {
  return {
    urls: parseAmqpUrlList(url),
    strategy: parseFailoverStrategy(settings.broker_failover_strategy),
    tls: parseAmqpUseSsl(settings.broker_use_ssl),
    heartbeatSec: amqpPlaneSettings(settings).heartbeatSec ?? 120,
    connectTimeoutMs: connectTimeoutMsOf(settings.broker_connection_timeout),
  };
}
