import type { SslCertReqs } from './cert-reqs.js';

/** TLS to the Redis server (to the master, with Sentinel). File paths are read when connecting. */
export interface RedisTlsSettings {
  certReqs: SslCertReqs;
  caCerts?: string;
  certFile?: string;
  keyFile?: string;
  /** Check the host name against the certificate (on unless `ssl_check_hostname=false`). */
  checkHostname: boolean;
}

/** One host and port. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

/** The login, database and socket options every target carries. */
export interface TargetAuth {
  username?: string;
  password?: string;
  db: number;
  /** `socket_connect_timeout` in ms, when given. */
  connectTimeoutMs?: number;
  /** `socket_timeout` in ms (redis-py's read timeout: no reply that long drops the connection), when given. */
  socketTimeoutMs?: number;
  /** `socket_keepalive`: TCP keep-alive on the socket (off unless given, as in redis-py). */
  socketKeepalive?: boolean;
}

/** One Redis server over TCP (TLS when `tls`), as a `redis://` or `rediss://` URL gives it. */
export type RedisTcpTarget = TargetAuth & { kind: 'tcp'; host: string; port: number; tls: RedisTlsSettings | null };

/** One Redis server over a unix socket (`redis+socket://` or `unix://`). */
export type RedisSocketTarget = TargetAuth & { kind: 'socket'; path: string; scheme: 'redis+socket' | 'unix' };

/** kombu's failover strategies (Celery's `broker_failover_strategy`): which URL of a list comes next. */
export type RedisFailoverStrategy = 'round-robin' | 'shuffle';

/** Where and how to connect, as read from one Celery URL (plus its transport options and TLS dict). */
export type RedisTarget =
  | RedisTcpTarget
  | RedisSocketTarget
  | (TargetAuth & {
      kind: 'sentinel';
      sentinels: RedisEndpoint[];
      masterName: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      /** TLS to the master. */
      tls: RedisTlsSettings | null;
      /** TLS to the sentinels themselves (`sentinel_kwargs: {ssl: true, ssl_*...}`), when on. */
      sentinelTls?: RedisTlsSettings;
    })
  | (TargetAuth & {
      /**
       * kombu's failover list (`redis://a:6379;redis://b:6379`): the first server, then the next
       * one by `strategy` each time a connect fails or the connection is lost. Every URL gives the
       * same login, database and socket options (the auth fields here are theirs).
       */
      kind: 'failover';
      alternates: (RedisTcpTarget | RedisSocketTarget)[];
      strategy: RedisFailoverStrategy;
    });
