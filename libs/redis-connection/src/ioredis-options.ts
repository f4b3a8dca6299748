import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { redactUrl } from '@celeriac/logger';
import type { RedisOptions } from 'ioredis';
import { RedisTlsError } from './errors.js';
import { type FailoverEndpoint, failoverConnector } from './failover-connector.js';
import {
  formatRedisTarget,
  type RedisSocketTarget,
  type RedisTarget,
  type RedisTcpTarget,
  type RedisTlsSettings,
} from './redis-url.js';

function readTlsFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new RedisTlsError(
      'REDIS_TLS_FILE',
      `cannot read ${key} "${path}" (${code}); give a PEM file this process can read`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Node's TLS options for kombu's ssl_* settings. CERT_OPTIONAL is CERT_REQUIRED on a client (as
 * in Python: a server always sends a certificate); CERT_NONE checks neither chain nor host name.
 */
export function nodeTlsOptions(tls: RedisTlsSettings): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.certReqs !== 'none' };
  if (tls.caCerts !== undefined) options.ca = readTlsFile('ssl_ca_certs', tls.caCerts);
  if (tls.certFile !== undefined) options.cert = readTlsFile('ssl_certfile', tls.certFile);
  if (tls.keyFile !== undefined) options.key = readTlsFile('ssl_keyfile', tls.keyFile);
  if (!tls.checkHostname || tls.certReqs === 'none') options.checkServerIdentity = () => undefined;
  return options;
}

/** What a connection to a failover list tells its owner. */
export interface TargetHooks {
  /** A connect goes to another server of the list than the last one (URLs redacted). */
  onFailover?: (fromUrl: string, toUrl: string) => void;
}

function failoverEndpoint(alternate: RedisTcpTarget | RedisSocketTarget): FailoverEndpoint {
  const shownUrl = redactUrl(formatRedisTarget(alternate));
  if (alternate.kind === 'socket') return { shownUrl, path: alternate.path };
  const endpoint: FailoverEndpoint = { shownUrl, host: alternate.host, port: alternate.port };
  if (alternate.tls) endpoint.tls = nodeTlsOptions(alternate.tls);
  return endpoint;
}

/**
 * ioredis's options for a target: host/port, unix socket path, Sentinel (ioredis's own support),
 * or a failover list (a connector of ours that moves to the next server on each reconnect).
 */
export function ioredisTargetOptions(target: RedisTarget, hooks: TargetHooks = {}): RedisOptions {
  const auth: RedisOptions = { db: target.db };
  if (target.username !== undefined) auth.username = target.username;
  if (target.password !== undefined) auth.password = target.password;
  if (target.connectTimeoutMs !== undefined) auth.connectTimeout = target.connectTimeoutMs;
  // redis-py's socket_timeout: no reply that long drops the connection (ioredis then reconnects
  // and resends the command, as redis_retry_on_timeout would; a subscriber's idle wait is not timed).
  if (target.socketTimeoutMs !== undefined) auth.socketTimeout = target.socketTimeoutMs;
  // socket_keepalive true: ioredis's keep-alive (0: the system's delay). Off: createRedisConnection.
  if (target.socketKeepalive === true) auth.keepAlive = 0;
  switch (target.kind) {
    case 'tcp':
      return {
        ...auth,
        host: target.host,
        port: target.port,
        ...(target.tls ? { tls: nodeTlsOptions(target.tls) } : {}),
      };
    case 'socket':
      return { ...auth, path: target.path };
    case 'sentinel': {
      const options: RedisOptions = {
        ...auth,
        sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: target.masterName,
        role: 'master',
        // Not ioredis's failoverDetector: a +switch-master arriving while a reconnect asks the
        // sentinels makes that connect fail with "Connection is closed." and ends the connection
        // for good. A dead master drops the connection anyway; a demoted one answers READONLY.
        failoverDetector: false,
        reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
        sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
      };
      if (target.sentinelUsername !== undefined) options.sentinelUsername = target.sentinelUsername;
      if (target.sentinelPassword !== undefined) options.sentinelPassword = target.sentinelPassword;
      if (target.tls) {
        options.tls = nodeTlsOptions(target.tls);
        options.enableTLSForSentinelMode = true;
      }
      if (target.sentinelTls) options.sentinelTLS = nodeTlsOptions(target.sentinelTls);
      return options;
    }
    case 'failover': {
      const endpoints = target.alternates.map(failoverEndpoint);
      const first = endpoints[0] as FailoverEndpoint;
      return {
        ...auth,
        ...(first.path === undefined ? { host: first.host, port: first.port } : { path: first.path }),
        ...(first.tls ? { tls: first.tls } : {}),
        Connector: failoverConnector({
          endpoints,
          strategy: target.strategy,
          onSwitch: (from, to) => hooks.onFailover?.(from.shownUrl, to.shownUrl),
        }),
      };
    }
  }
}
