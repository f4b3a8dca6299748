import { failoverTarget } from './failover-target.js';
import type { RedisTarget, TargetAuth } from './redis-target.js';
import type { RedisUrlContext } from './redis-url-context.js';
import { failRedisUrl } from './redis-url-failure.js';
import { sentinelKwargs, sentinelTlsSettings } from './sentinel-kwargs.js';
import { plainObject } from './setting-values.js';
import { REDIS_URL_EXAMPLE, splitUrlChunk, type UrlChunk } from './url-chunk.js';
import { queryOf, type SocketOptions, socketOptions } from './url-query.js';
import { SSL_KEYS, sslDict, tlsSettings } from './url-tls-settings.js';

// The pieces of URL reading live in files of their own; these are re-exported so that every
// import of './redis-url.js' (and of '@celeriac/redis-connection/url') keeps working.
export { formatRedisTarget } from './format-redis-target.js';
export type {
  RedisEndpoint,
  RedisFailoverStrategy,
  RedisSocketTarget,
  RedisTarget,
  RedisTcpTarget,
  RedisTlsSettings,
} from './redis-target.js';
export type { RedisUrlContext } from './redis-url-context.js';
export { REDIS_URL_SCHEMES, urlScheme } from './url-chunk.js';

function databaseNumber(setting: string, text: string | null | undefined, where: string): number {
  if (text === null || text === undefined || text === '' || text === '/') return 0;
  const digits = text.startsWith('/') ? text.slice(1) : text;
  if (!/^\d{1,5}$/.test(digits)) {
    failRedisUrl(setting, `${where} must be a database number such as "/0", as in "redis://host:6379/0"`);
  }
  return Number(digits);
}

function withAuth<T extends object>(target: T, chunk: UrlChunk, db: number, socket: SocketOptions): T & TargetAuth {
  const out: T & TargetAuth = { ...target, db };
  if (chunk.username !== undefined) out.username = chunk.username;
  if (chunk.password !== undefined) out.password = chunk.password;
  if (socket.connectTimeoutMs !== undefined) out.connectTimeoutMs = socket.connectTimeoutMs;
  if (socket.socketTimeoutMs !== undefined) out.socketTimeoutMs = socket.socketTimeoutMs;
  if (socket.socketKeepalive !== undefined) out.socketKeepalive = socket.socketKeepalive;
  return out;
}

/**
 * Reads a Celery broker or result backend URL as kombu and Celery 5.2 do, with the settings that
 * go with it: `redis://`, `rediss://` (ssl_* in the query or the TLS dict; default CERT_REQUIRED),
 * `redis+socket:///path?virtual_host=N`, `unix:///path?db=N`, `sentinel://h1:p;sentinel://h2:p`
 * (or a list) with `master_name` and `sentinel_kwargs` from the transport options, and kombu's
 * failover lists of the others (`redis://a:6379;redis://b:6379`, `broker_failover_strategy`).
 * Throws {@link RedisUrlError}.
 */
export function parseRedisUrl(value: unknown, context: RedisUrlContext = {}): RedisTarget {
  return readTarget(value, context, false);
}

/** {@link parseRedisUrl}; `inList`: one URL of a failover list (its failover_strategy was read by the list). */
function readTarget(value: unknown, context: RedisUrlContext, inList: boolean): RedisTarget {
  const setting = context.setting ?? 'url';
  const optionsSetting = context.transportOptionsSetting ?? 'transport options';
  const sslSetting = context.useSslSetting ?? 'TLS settings';
  let chunksText: string[];
  if (Array.isArray(value)) {
    if (value.length === 0 || value.some((v) => typeof v !== 'string'))
      failRedisUrl(setting, `a list must hold URLs, ${REDIS_URL_EXAMPLE}`);
    chunksText = (value as string[]).flatMap((v) => v.split(';'));
  } else if (typeof value === 'string') {
    chunksText = value.split(';');
  } else {
    return failRedisUrl(setting, `must be a Redis URL, ${REDIS_URL_EXAMPLE}`);
  }
  const chunks = chunksText.map((text) => splitUrlChunk(setting, text));
  const first = chunks[0] as UrlChunk;
  const schemes = new Set(chunks.map((c) => c.scheme));
  if (chunks.length > 1 && schemes.has('sentinel') && schemes.size > 1) {
    failRedisUrl(
      setting,
      'a list mixes sentinel:// with other URLs; give sentinels only (sentinel://h1:26379;sentinel://h2:26379 with master_name), or Redis servers only for failover (redis://a:6379;redis://b:6379)',
    );
  }
  if (chunks.length > 1 && first.scheme !== 'sentinel') {
    return failoverTarget(setting, chunksText, chunks, context, (text) => readTarget(text, context, true));
  }
  const query = queryOf(setting, chunks, inList);
  const socket = socketOptions(setting, query);
  const transport = context.transportOptions;
  if (transport !== undefined && transport !== null && !plainObject(transport)) {
    failRedisUrl(optionsSetting, 'must be a dict');
  }
  const options = (transport ?? {}) as Record<string, unknown>;
  const dict = sslDict(sslSetting, context.useSsl);

  if (first.scheme === 'redis+socket' || first.scheme === 'unix') {
    if (first.host !== '') {
      failRedisUrl(setting, `a socket URL has no host: write ${first.scheme}:///path/to/redis.sock (three slashes)`);
    }
    if (first.path === '' || first.path === '/')
      failRedisUrl(
        setting,
        `${first.scheme}:// needs the socket's path, as in ${first.scheme}:///run/redis/redis.sock`,
      );
    if (dict) failRedisUrl(sslSetting, `TLS is set but ${setting} is a unix socket URL`);
    const db = databaseNumber(
      setting,
      query.get('virtual_host') ?? query.get('db'),
      'the virtual_host (or db) parameter',
    );
    return withAuth({ kind: 'socket' as const, path: first.path, scheme: first.scheme }, first, db, socket);
  }

  const tlsQuery = new Map([...query].filter(([key]) => (SSL_KEYS as readonly string[]).includes(key)));
  if (first.scheme === 'sentinel') {
    const sentinels = chunks.map((c) => ({ host: c.host || '127.0.0.1', port: c.port ?? 26379 }));
    const masterName = query.get('master_name') ?? options.master_name;
    if (masterName !== undefined && (typeof masterName !== 'string' || masterName === '')) {
      failRedisUrl(optionsSetting, 'master_name must be the name of the Sentinel master group, a non-empty string');
    }
    if (masterName === undefined && context.requireMasterName !== false) {
      failRedisUrl(
        setting,
        `a sentinel:// URL needs the master group's name: set ${optionsSetting} = {"master_name": "mymaster"} (the name in "sentinel monitor <name> ...")`,
      );
    }
    const auth = sentinelKwargs(optionsSetting, options.sentinel_kwargs);
    const sentinelUsername = query.get('sentinel_username') ?? auth.username;
    const sentinelPassword = query.get('sentinel_password') ?? auth.password;
    const sentinelTls = sentinelTlsSettings(setting, query, auth, optionsSetting);
    const tls = tlsQuery.size > 0 || dict ? tlsSettings(setting, tlsQuery, dict, sslSetting) : null;
    // Celery's SentinelBackend takes db and password from the first URL.
    const target: RedisTarget = withAuth(
      { kind: 'sentinel' as const, sentinels, masterName: (masterName as string | undefined) ?? '', tls },
      first,
      databaseNumber(setting, first.path, 'the path after the host'),
      socket,
    );
    if (sentinelUsername !== undefined) Object.assign(target, { sentinelUsername });
    if (sentinelPassword !== undefined) Object.assign(target, { sentinelPassword });
    if (sentinelTls !== undefined) Object.assign(target, { sentinelTls });
    return target;
  }

  if (first.scheme === 'redis' && dict && context.sslDictNeedsRediss) {
    failRedisUrl(sslSetting, `TLS settings are given with a redis:// ${setting}; TLS needs rediss:// (as Celery says)`);
  }
  const useTls = first.scheme === 'rediss' || dict !== null;
  const tls = useTls ? tlsSettings(setting, tlsQuery, dict, sslSetting) : null;
  return withAuth(
    { kind: 'tcp' as const, host: first.host || '127.0.0.1', port: first.port ?? 6379, tls },
    first,
    databaseNumber(setting, first.path, 'the path after the host'),
    socket,
  );
}
