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
  };
}

/**
 * The target of the broker or result backend as a Celery app's settings (lowercase names) give
 * it: the URL with `*_transport_options` (master_name, sentinel_kwargs) and the TLS dict
 * (`broker_use_ssl` / `redis_backend_use_ssl`). Without `result_backend`, the broker's.
 */
export function redisTargetFromSettings(role: RedisRole, settings: Readonly<Record<string, unknown>>): RedisTarget {
  const { url, ...context } = contextFor(role, settings);
  if (url === undefined || url === null || url === '') {
    throw new RedisUrlError(`${context.setting} is not set: give a Redis URL such as "redis://host:6379/0"`);
  }
  return parseRedisUrl(url, context);
}

/** {@link redisTargetFromSettings} as one URL string that carries everything (for the packages that take a URL). */
export function redisUrlFromSettings(role: RedisRole, settings: Readonly<Record<string, unknown>>): string {
  return formatRedisTarget(redisTargetFromSettings(role, settings));
}
