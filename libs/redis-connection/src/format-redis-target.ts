import { FAILOVER_STRATEGY_KEY } from './failover-target.js';
import type { RedisTarget, RedisTlsSettings, TargetAuth } from './redis-target.js';

/** The `user:password@` part of a URL, percent-encoded; '' without credentials. */
export function urlUserinfo(t: TargetAuth): string {
  if (t.username === undefined && t.password === undefined) return '';
  const user = t.username === undefined ? '' : encodeURIComponent(t.username);
  return t.password === undefined ? `${user}@` : `${user}:${encodeURIComponent(t.password)}@`;
}

/** A host as a URL writes it: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function tlsQueryPairs(tls: RedisTlsSettings): [string, string][] {
  const pairs: [string, string][] = [['ssl_cert_reqs', tls.certReqs]];
  if (tls.caCerts !== undefined) pairs.push(['ssl_ca_certs', tls.caCerts]);
  if (tls.certFile !== undefined) pairs.push(['ssl_certfile', tls.certFile]);
  if (tls.keyFile !== undefined) pairs.push(['ssl_keyfile', tls.keyFile]);
  if (!tls.checkHostname) pairs.push(['ssl_check_hostname', 'false']);
  return pairs;
}

function queryText(pairs: [string, string][]): string {
  return pairs.length === 0 ? '' : `?${new URLSearchParams(pairs).toString()}`;
}

/**
 * One URL string that {@link parseRedisUrl} alone reads back into the same target: transport
 * options and TLS dict folded into the query (`master_name`, `ssl_*`, `sentinel_password`), so the
 * broker, result backend and control plane, which take a URL, get everything.
 */
export function formatRedisTarget(target: RedisTarget): string {
  const timeout: [string, string][] =
    target.connectTimeoutMs === undefined ? [] : [['socket_connect_timeout', String(target.connectTimeoutMs / 1000)]];
  if (target.socketTimeoutMs !== undefined) timeout.push(['socket_timeout', String(target.socketTimeoutMs / 1000)]);
  if (target.socketKeepalive !== undefined) timeout.push(['socket_keepalive', String(target.socketKeepalive)]);
  switch (target.kind) {
    case 'tcp':
      return `${target.tls ? 'rediss' : 'redis'}://${urlUserinfo(target)}${urlHost(target.host)}:${target.port}/${target.db}${queryText(
        [...timeout, ...(target.tls ? tlsQueryPairs(target.tls) : [])],
      )}`;
    case 'socket':
      return `${target.scheme}://${urlUserinfo(target)}${target.path}${queryText([
        [target.scheme === 'unix' ? 'db' : 'virtual_host', String(target.db)],
        ...timeout.filter(([key]) => key !== 'socket_connect_timeout'),
      ])}`;
    case 'sentinel': {
      const pairs: [string, string][] = [...timeout];
      if (target.masterName !== '') pairs.push(['master_name', target.masterName]);
      if (target.sentinelUsername !== undefined) pairs.push(['sentinel_username', target.sentinelUsername]);
      if (target.sentinelPassword !== undefined) pairs.push(['sentinel_password', target.sentinelPassword]);
      if (target.tls) pairs.push(...tlsQueryPairs(target.tls));
      if (target.sentinelTls) {
        pairs.push(['sentinel_ssl', 'true']);
        pairs.push(
          ...tlsQueryPairs(target.sentinelTls).map(([key, value]): [string, string] => [`sentinel_${key}`, value]),
        );
      }
      return target.sentinels
        .map((s, i) =>
          i === 0
            ? `sentinel://${urlUserinfo(target)}${urlHost(s.host)}:${s.port}/${target.db}${queryText(pairs)}`
            : `sentinel://${urlHost(s.host)}:${s.port}`,
        )
        .join(';');
    }
    case 'failover': {
      const urls = target.alternates.map(formatRedisTarget);
      if (target.strategy !== 'round-robin') {
        const head = urls[0] as string;
        urls[0] = `${head}${head.includes('?') ? '&' : '?'}${FAILOVER_STRATEGY_KEY}=${target.strategy}`;
      }
      return urls.join(';');
    }
  }
}
