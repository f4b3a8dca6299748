// The URL reading alone, without ioredis: `@celeriac/redis-connection/url` (config-schema uses it).
export { certReqsOf, type SslCertReqs } from './cert-reqs.js';
export { RedisTlsError, RedisUrlError } from './errors.js';
export { pythonCelerySettings } from './python-celery-settings.js';
export {
  formatRedisTarget,
  parseRedisUrl,
  REDIS_URL_SCHEMES,
  type RedisEndpoint,
  type RedisFailoverStrategy,
  type RedisSocketTarget,
  type RedisTarget,
  type RedisTcpTarget,
  type RedisTlsSettings,
  type RedisUrlContext,
  urlScheme,
} from './redis-url.js';
export { type RedisRole, redisTargetFromSettings, redisUrlFromSettings } from './url-from-settings.js';
