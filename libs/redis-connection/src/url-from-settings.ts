import { RedisUrlError } from './errors.js';
import { formatRedisTarget, parseRedisUrl, type RedisTarget, type RedisUrlContext } from './redis-url.js';

/** Which connection of a Celery app: the broker, or the result backend (the broker's when unset). */
export type RedisRole = 'broker' | 'result_backend';

/** The settings kombu / Celery read next to each URL, by role. */
function contextFor(role: RedisRole, settings: Readonly<Record<string, unknown>>): RedisUrlContext & { url: unknown } {
  if (role === 'result_backend' && settings.result_backend !== undefined && settings.result_backend !== null) {
    return {
      url: settings.result_backend,
      setting: 'result_backend',
      transportOptions: settings.result_backend_transport_options,
      transportOptionsSetting: 'result_backend_transport_options',
      useSsl: settings.redis_backend_use_ssl,
      useSslSetting: 'redis_backend_use_ssl',
      sslDictNeedsRediss: true,
    };
  }
  return {
    url: settings.broker_url,
    setting: 'broker_url',
    transportOptions: settings.broker_transport_options,
    transportOptionsSetting: 'broker_transport_options',
    useSsl: settings.broker_use_ssl,
    useSslSetting: 'broker_use_ssl',
    failoverStrategy: settings.broker_failover_strategy,
    failoverStrategySetting: 'broker_failover_strategy',
  };
}

/**
 * The target of the broker or result backend as a Celery app's settings (lowercase names) give
 * it: the URL with `*_transport_options` (master_name, sentinel_kwargs) and the TLS dict
 * (`broker_use_ssl` / `redis_backend_use_ssl`), and for a broker list `broker_failover_strategy`.
 * Without `result_backend`, the broker's.
 */
export function redisTargetFromSettings(role: RedisRole, settings: Readonly<Record<string, unknown>>): RedisTarget {
  const { url, ...context } = contextFor(role, settings);
  if (url === undefined || url === null || url === '') {
    throw new RedisUrlError(`${context.setting} is not set: give a Redis URL such as "redis://host:6379/0"`);
  }
  const target = parseRedisUrl(url, context);
  return role === 'result_backend' ? withBackendSocketSettings(target, settings) : target;
}

function seconds(settings: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = settings[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RedisUrlError(`${name} must be a number of seconds > 0 (or null), got ${JSON.stringify(value)}`);
  }
  return Math.round(value * 1000);
}

/**
 * Celery's Redis result backend settings `redis_socket_timeout`, `redis_socket_connect_timeout`
 * and `redis_socket_keepalive` (redis-py's socket options; Celery 5.2 gives them to the backend
 * only, never to the broker). The URL's own query parameters win, as in Celery.
 */
function withBackendSocketSettings(target: RedisTarget, settings: Readonly<Record<string, unknown>>): RedisTarget {
  const out: RedisTarget = { ...target };
  const socketTimeoutMs = seconds(settings, 'redis_socket_timeout');
  if (out.socketTimeoutMs === undefined && socketTimeoutMs !== undefined) out.socketTimeoutMs = socketTimeoutMs;
  const connectTimeoutMs = seconds(settings, 'redis_socket_connect_timeout');
  if (out.connectTimeoutMs === undefined && connectTimeoutMs !== undefined) out.connectTimeoutMs = connectTimeoutMs;
  const keepalive = settings.redis_socket_keepalive;
  if (keepalive !== undefined && keepalive !== null && typeof keepalive !== 'boolean') {
    throw new RedisUrlError(`redis_socket_keepalive must be true or false, got ${JSON.stringify(keepalive)}`);
  }
  if (out.socketKeepalive === undefined && typeof keepalive === 'boolean') out.socketKeepalive = keepalive;
  return out;
}

/** {@link redisTargetFromSettings} as one URL string that carries everything (for the packages that take a URL). */
export function redisUrlFromSettings(role: RedisRole, settings: Readonly<Record<string, unknown>>): string {
  return formatRedisTarget(redisTargetFromSettings(role, settings));
}
