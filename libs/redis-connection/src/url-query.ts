import { FAILOVER_STRATEGY_KEY } from './failover-target.js';
import { failRedisUrl } from './redis-url-failure.js';
import { booleanText } from './setting-values.js';
import type { UrlChunk } from './url-chunk.js';
import { SSL_KEYS } from './url-tls-settings.js';

/** redis-py's socket options, read from any Redis URL's query (Celery's backend passes them on). */
const SOCKET_KEYS = ['socket_timeout', 'socket_keepalive'] as const;
/** TLS to the sentinels, as formatRedisTarget writes sentinel_kwargs' ssl keys into a query. */
const SENTINEL_SSL_KEYS = ['sentinel_ssl', ...SSL_KEYS.map((key) => `sentinel_${key}`)] as const;
const QUERY_KEYS: Record<string, readonly string[]> = {
  redis: ['socket_connect_timeout', ...SOCKET_KEYS],
  rediss: ['socket_connect_timeout', ...SOCKET_KEYS, ...SSL_KEYS],
  'redis+socket': ['virtual_host', 'db', ...SOCKET_KEYS],
  unix: ['virtual_host', 'db', ...SOCKET_KEYS],
  sentinel: [
    'socket_connect_timeout',
    ...SOCKET_KEYS,
    'master_name',
    'sentinel_username',
    'sentinel_password',
    ...SSL_KEYS,
    ...SENTINEL_SSL_KEYS,
  ],
};

/** The query parameters of every chunk, checked against what the scheme reads; a key set twice must agree. */
export function queryOf(setting: string, chunks: readonly UrlChunk[], inList = false): Map<string, string> {
  const merged = new Map<string, string>();
  for (const chunk of chunks) {
    for (const [key, value] of chunk.query) {
      if (inList && key === FAILOVER_STRATEGY_KEY) continue;
      const allowed = QUERY_KEYS[chunk.scheme] ?? [];
      if (!allowed.includes(key)) {
        if (chunk.scheme === 'redis' && (SSL_KEYS as readonly string[]).includes(key)) {
          failRedisUrl(setting, `${key} is given with a redis:// URL; TLS needs rediss:// (as Celery says)`);
        }
        failRedisUrl(
          setting,
          `the query parameter "${key}" is not one Celeriac reads for ${chunk.scheme}://` +
            (allowed.length > 0 ? `; it reads ${allowed.join(', ')}` : ''),
        );
      }
      const before = merged.get(key);
      if (before !== undefined && before !== value)
        failRedisUrl(setting, `the query parameter "${key}" is given twice with different values`);
      merged.set(key, value);
    }
  }
  return merged;
}

function secondsParam(setting: string, query: Map<string, string>, key: string): number | undefined {
  const text = query.get(key);
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    failRedisUrl(setting, `${key} must be a number of seconds > 0, got ${JSON.stringify(text)}`);
  }
  return Math.round(seconds * 1000);
}

/** The socket options of a URL's query: connect and read timeouts (ms), keep-alive. */
export interface SocketOptions {
  connectTimeoutMs: number | undefined;
  socketTimeoutMs: number | undefined;
  socketKeepalive: boolean | undefined;
}

/** The socket options of a URL's merged query (timeouts in seconds there, ms here). */
export function socketOptions(setting: string, query: Map<string, string>): SocketOptions {
  const keepalive = query.get('socket_keepalive');
  return {
    connectTimeoutMs: secondsParam(setting, query, 'socket_connect_timeout'),
    socketTimeoutMs: secondsParam(setting, query, 'socket_timeout'),
    socketKeepalive: keepalive === undefined ? undefined : booleanText(setting, 'socket_keepalive', keepalive),
  };
}
