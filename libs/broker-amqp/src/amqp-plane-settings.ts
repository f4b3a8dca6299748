import { CONTROL_QUEUE_EXPIRES_MS, CONTROL_QUEUE_TTL_MS, type PidboxQueueLimits } from './amqp-pidbox-queues.js';

/** What Celery settings say about the control plane's RabbitMQ side. */
export interface AmqpPlaneSettings extends PidboxQueueLimits {
  /** `broker_heartbeat` (seconds), when set. */
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
