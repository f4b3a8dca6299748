import { certReqsOf, type SslCertReqs } from './cert-reqs.js';
import { RedisUrlError } from './errors.js';

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

interface TargetAuth {
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

/** The URL schemes Celeriac connects with, as kombu and Celery name them for Redis. */
export const REDIS_URL_SCHEMES = ['redis', 'rediss', 'redis+socket', 'unix', 'sentinel'] as const;

/** What goes with a URL: the settings kombu reads next to it, and their names for messages. */
export interface RedisUrlContext {
  /** The setting the URL came from (`broker_url`, `result_backend`, `--broker`). */
  setting?: string;
  /** `broker_transport_options` / `result_backend_transport_options` (master_name, sentinel_kwargs). */
  transportOptions?: unknown;
  transportOptionsSetting?: string;
  /** `broker_use_ssl` / `redis_backend_use_ssl`: true or a dict of ssl_* keys. */
  useSsl?: unknown;
  useSslSetting?: string;
  /** Celery's result backend refuses a TLS dict next to a `redis://` URL; kombu's broker turns TLS on. */
  sslDictNeedsRediss?: boolean;
  /** false: a sentinel URL without master_name is accepted (a layer may set master_name elsewhere). */
  requireMasterName?: boolean;
  /** `broker_failover_strategy`, for a list of URLs: "round-robin" (the default) or "shuffle". */
  failoverStrategy?: unknown;
  failoverStrategySetting?: string;
}

const SSL_KEYS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_check_hostname'] as const;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):\/\//;
const EXAMPLE =
  'e.g. "redis://host:6379/0", "rediss://host:6380/0?ssl_cert_reqs=required", "sentinel://h1:26379;sentinel://h2:26379"';
const LATER: Record<string, string> = {
  amqp: 'RabbitMQ (amqp://) is not supported yet',
  amqps: 'RabbitMQ (amqps://) is not supported yet',
  pyamqp: 'RabbitMQ (pyamqp://) is not supported yet',
  librabbitmq: 'RabbitMQ (librabbitmq://) is not supported yet',
};

/** The scheme Celeriac reads a URL with, or a message saying why it cannot. */
export function urlScheme(url: string): string | undefined {
  return SCHEME.exec(url)?.[1]?.toLowerCase();
}

interface Chunk {
  scheme: string;
  username?: string;
  password?: string;
  host: string;
  port?: number;
  path: string;
  query: URLSearchParams;
}

function fail(setting: string, message: string): never {
  throw new RedisUrlError(`${setting}: ${message}`);
}

function decode(setting: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail(setting, `the ${what} is not valid %-encoding`);
  }
}

/** Splits one URL as kombu (`urlparse` with HTTP semantics) reads it; never repeats the user info. */
function splitChunk(setting: string, url: string): Chunk {
  if (url.length === 0 || /\s/.test(url)) fail(setting, `must be a Redis URL without spaces, ${EXAMPLE}`);
  const scheme = urlScheme(url);
  if (scheme === undefined) fail(setting, `must be a URL with a scheme, ${EXAMPLE}`);
  if (!(REDIS_URL_SCHEMES as readonly string[]).includes(scheme)) {
    const later = LATER[scheme];
    fail(
      setting,
      later === undefined
        ? `the scheme "${scheme}://" is not one Celeriac connects with; use redis://, rediss://, redis+socket://, unix:// or sentinel://, ${EXAMPLE}`
        : `the scheme "${scheme}://": ${later}; use redis://, rediss://, redis+socket://, unix:// or sentinel://`,
    );
  }
  const rest = url.slice(scheme.length + 3);
  const hashAt = rest.indexOf('#');
  const noHash = hashAt === -1 ? rest : rest.slice(0, hashAt);
  const queryAt = noHash.indexOf('?');
  const beforeQuery = queryAt === -1 ? noHash : noHash.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : noHash.slice(queryAt + 1));
  const slash = beforeQuery.indexOf('/');
  const authority = slash === -1 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash === -1 ? '' : beforeQuery.slice(slash);
  const at = authority.lastIndexOf('@');
  const chunk: Chunk = { scheme, host: '', path, query };
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (user !== '') chunk.username = decode(setting, user, 'user name');
    if (colon !== -1) {
      const password = decode(setting, userinfo.slice(colon + 1), 'password');
      if (password !== '') chunk.password = password;
    }
  }
  const hostPort = authority.slice(at + 1);
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) fail(setting, 'an IPv6 host needs its closing "]", as in "redis://[::1]:6379/0"');
    chunk.host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(setting, `must be a Redis URL, ${EXAMPLE}`);
    port = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hostPort.indexOf(':');
    chunk.host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    port = colon === -1 ? undefined : hostPort.slice(colon + 1);
  }
  if (port !== undefined && port !== '') {
    const number = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(number >= 1 && number <= 65_535)) {
      // Without an "@", text after the host's ":" may be a password that lost its "@host".
      if (at === -1 && !/^\d+$/.test(port)) {
        fail(
          setting,
          `the text after "${scheme}://${chunk.host}:" is not a port number (1 to 65535); if it is a password, put it before the host, as in "${scheme}://:password@host:6379/0"`,
        );
      }
      fail(
        setting,
        `the port "${port.slice(0, 20)}" is not a port number; use 1 to 65535, as in "redis://host:6379/0"`,
      );
    }
    chunk.port = number;
  }
  return chunk;
}

function databaseNumber(setting: string, text: string | null | undefined, where: string): number {
  if (text === null || text === undefined || text === '' || text === '/') return 0;
  const digits = text.startsWith('/') ? text.slice(1) : text;
  if (!/^\d{1,5}$/.test(digits)) {
    fail(setting, `${where} must be a database number such as "/0", as in "redis://host:6379/0"`);
  }
  return Number(digits);
}

function certReqs(setting: string, value: unknown): SslCertReqs {
  const found = certReqsOf(value);
  if (found === undefined) {
    fail(
      setting,
      `ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE (or required / optional / none), got ${JSON.stringify(value)}`,
    );
  }
  return found;
}

function booleanText(setting: string, key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|yes|1|on)$/i.test(value)) return true;
  if (typeof value === 'string' && /^(false|no|0|off)$/i.test(value)) return false;
  return fail(setting, `${key} must be true or false, got ${JSON.stringify(value)}`);
}

function filePath(setting: string, key: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    fail(setting, `${key} must be a file path, got ${JSON.stringify(value)}`);
  return value;
}

/** Merges TLS keys (URL query first, kombu's precedence, then the dict setting) into settings. */
function tlsSettings(
  setting: string,
  fromQuery: Map<string, string>,
  dict: Record<string, unknown> | null,
  dictSetting: string,
): RedisTlsSettings {
  const pick = (key: (typeof SSL_KEYS)[number]): { value: unknown; where: string } | undefined => {
    if (fromQuery.has(key)) return { value: fromQuery.get(key), where: setting };
    if (dict && dict[key] !== undefined && dict[key] !== null) return { value: dict[key], where: dictSetting };
    return undefined;
  };
  const reqs = pick('ssl_cert_reqs');
  const tls: RedisTlsSettings = {
    certReqs: reqs === undefined ? 'required' : certReqs(reqs.where, reqs.value),
    checkHostname: true,
  };
  const ca = pick('ssl_ca_certs');
  if (ca) tls.caCerts = filePath(ca.where, 'ssl_ca_certs', ca.value);
  const cert = pick('ssl_certfile');
  if (cert) tls.certFile = filePath(cert.where, 'ssl_certfile', cert.value);
  const key = pick('ssl_keyfile');
  if (key) tls.keyFile = filePath(key.where, 'ssl_keyfile', key.value);
  const hostname = pick('ssl_check_hostname');
  if (hostname) tls.checkHostname = booleanText(hostname.where, 'ssl_check_hostname', hostname.value);
  if (tls.keyFile !== undefined && tls.certFile === undefined) {
    fail(setting, 'ssl_keyfile is set without ssl_certfile: give the client certificate too');
  }
  return tls;
}

function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `broker_use_ssl` / `redis_backend_use_ssl`: null when off, {} for true, the dict otherwise. */
function sslDict(name: string, value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return {};
  if (!plainObject(value)) {
    fail(
      name,
      `must be true, false or a dict of ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, got ${JSON.stringify(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!(SSL_KEYS as readonly string[]).includes(key)) {
      fail(name, `"${key}" is not a TLS key Celeriac reads; use ${SSL_KEYS.join(', ')}`);
    }
  }
  return value;
}

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
/** Read in the query of a failover list's URLs (formatRedisTarget writes broker_failover_strategy there). */
const FAILOVER_KEY = 'failover_strategy';

/** The query parameters of every chunk, checked against what the scheme reads; a key set twice must agree. */
function queryOf(setting: string, chunks: readonly Chunk[], inList = false): Map<string, string> {
  const merged = new Map<string, string>();
  for (const chunk of chunks) {
    for (const [key, value] of chunk.query) {
      if (inList && key === FAILOVER_KEY) continue;
      const allowed = QUERY_KEYS[chunk.scheme] ?? [];
      if (!allowed.includes(key)) {
        if (chunk.scheme === 'redis' && (SSL_KEYS as readonly string[]).includes(key)) {
          fail(setting, `${key} is given with a redis:// URL; TLS needs rediss:// (as Celery says)`);
        }
        fail(
          setting,
          `the query parameter "${key}" is not one Celeriac reads for ${chunk.scheme}://` +
            (allowed.length > 0 ? `; it reads ${allowed.join(', ')}` : ''),
        );
      }
      const before = merged.get(key);
      if (before !== undefined && before !== value)
        fail(setting, `the query parameter "${key}" is given twice with different values`);
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
    fail(setting, `${key} must be a number of seconds > 0, got ${JSON.stringify(text)}`);
  }
  return Math.round(seconds * 1000);
}

/** The socket options of a URL's query: connect and read timeouts (ms), keep-alive. */
interface SocketOptions {
  connectTimeoutMs: number | undefined;
  socketTimeoutMs: number | undefined;
  socketKeepalive: boolean | undefined;
}

function socketOptions(setting: string, query: Map<string, string>): SocketOptions {
  const keepalive = query.get('socket_keepalive');
  return {
    connectTimeoutMs: secondsParam(setting, query, 'socket_connect_timeout'),
    socketTimeoutMs: secondsParam(setting, query, 'socket_timeout'),
    socketKeepalive: keepalive === undefined ? undefined : booleanText(setting, 'socket_keepalive', keepalive),
  };
}

function withAuth<T extends object>(target: T, chunk: Chunk, db: number, socket: SocketOptions): T & TargetAuth {
  const out: T & TargetAuth = { ...target, db };
  if (chunk.username !== undefined) out.username = chunk.username;
  if (chunk.password !== undefined) out.password = chunk.password;
  if (socket.connectTimeoutMs !== undefined) out.connectTimeoutMs = socket.connectTimeoutMs;
  if (socket.socketTimeoutMs !== undefined) out.socketTimeoutMs = socket.socketTimeoutMs;
  if (socket.socketKeepalive !== undefined) out.socketKeepalive = socket.socketKeepalive;
  return out;
}

/** The sentinel_kwargs Celeriac honours: auth of the sentinels and TLS to them (redis-py's ssl keys). */
interface SentinelKwargs {
  username?: string;
  password?: string;
  /** With `ssl: true`: TLS to the sentinels, with these ssl_* keys. */
  ssl?: Record<string, unknown>;
}

function sentinelKwargs(name: string, value: unknown): SentinelKwargs {
  if (value === undefined || value === null) return {};
  if (!plainObject(value)) fail(name, `sentinel_kwargs must be a dict, got ${JSON.stringify(value)}`);
  const out: SentinelKwargs = {};
  const ssl: Record<string, unknown> = {};
  let sslOn: boolean | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (key === 'password' || key === 'username') {
      if (typeof v !== 'string') fail(name, `sentinel_kwargs.${key} must be a string`);
      out[key] = v;
    } else if (key === 'ssl') {
      sslOn = booleanText(name, 'sentinel_kwargs.ssl', v);
    } else if ((SSL_KEYS as readonly string[]).includes(key)) {
      ssl[key] = v;
    } else {
      fail(
        name,
        `sentinel_kwargs.${key} is not honoured by Celeriac; it reads sentinel_kwargs.password, .username, .ssl and ${SSL_KEYS.map((k) => `.${k}`).join(', ')}`,
      );
    }
  }
  if (sslOn !== true && Object.keys(ssl).length > 0) {
    fail(
      name,
      'sentinel_kwargs has ssl_* keys without ssl: true (redis-py would ignore them): set sentinel_kwargs.ssl to true for TLS to the sentinels',
    );
  }
  if (sslOn === true) out.ssl = ssl;
  return out;
}

/** The sentinels' TLS from sentinel_kwargs, or from the sentinel_ssl* keys formatRedisTarget writes (those win). */
function sentinelTlsSettings(
  setting: string,
  query: Map<string, string>,
  kwargs: SentinelKwargs,
  optionsSetting: string,
): RedisTlsSettings | undefined {
  const fromQuery = new Map<string, string>();
  for (const key of SSL_KEYS) {
    const value = query.get(`sentinel_${key}`);
    if (value !== undefined) fromQuery.set(key, value);
  }
  const sslText = query.get('sentinel_ssl');
  const on = sslText === undefined ? undefined : booleanText(setting, 'sentinel_ssl', sslText);
  if (on === false) return undefined;
  if (on === undefined && fromQuery.size === 0 && kwargs.ssl === undefined) return undefined;
  return tlsSettings(setting, fromQuery, kwargs.ssl ?? null, `${optionsSetting}.sentinel_kwargs`);
}

function failoverStrategy(context: RedisUrlContext, chunks: readonly Chunk[], setting: string): RedisFailoverStrategy {
  const fromQuery = chunks.map((chunk) => chunk.query.get(FAILOVER_KEY)).find((value) => value !== null) ?? undefined;
  const where = fromQuery === undefined ? (context.failoverStrategySetting ?? 'broker_failover_strategy') : setting;
  const value = fromQuery ?? context.failoverStrategy;
  if (value === undefined || value === null) return 'round-robin';
  if (value !== 'round-robin' && value !== 'shuffle') {
    fail(where, `must be "round-robin" or "shuffle" (kombu's strategies), got ${JSON.stringify(value)}`);
  }
  return value;
}

const SHARED_NAMES: Record<string, string> = {
  db: 'database number',
  connectTimeoutMs: 'socket_connect_timeout',
  socketTimeoutMs: 'socket_timeout',
  socketKeepalive: 'socket_keepalive',
};

/**
 * kombu's failover list of plain Redis URLs: each read as one URL with the same settings, and all
 * made to agree on what one ioredis connection keeps across servers (login, database, timeouts).
 */
function failoverTarget(setting: string, texts: string[], chunks: Chunk[], context: RedisUrlContext): RedisTarget {
  const strategy = failoverStrategy(context, chunks, setting);
  const alternates = texts.map((text, i) => {
    const one = readTarget(text, context, true);
    if (one.kind !== 'tcp' && one.kind !== 'socket')
      fail(setting, `URL ${i + 1} of the list cannot be used in a failover list`);
    return one;
  });
  const first = alternates[0] as RedisTcpTarget | RedisSocketTarget;
  const shared = ['username', 'password', 'db', 'connectTimeoutMs', 'socketTimeoutMs', 'socketKeepalive'] as const;
  alternates.forEach((one, i) => {
    for (const key of shared) {
      if (one[key] !== first[key]) {
        const what = key === 'username' || key === 'password' ? 'user and password' : SHARED_NAMES[key];
        fail(
          setting,
          `URL ${i + 1} of the failover list gives another ${what} than the first; every URL of a list must give the same (Celeriac keeps one login and database per connection)`,
        );
      }
    }
  });
  const target: RedisTarget = { kind: 'failover', alternates, strategy, db: first.db };
  for (const key of shared) {
    if (first[key] !== undefined) Object.assign(target, { [key]: first[key] });
  }
  return target;
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
      fail(setting, `a list must hold URLs, ${EXAMPLE}`);
    chunksText = (value as string[]).flatMap((v) => v.split(';'));
  } else if (typeof value === 'string') {
    chunksText = value.split(';');
  } else {
    return fail(setting, `must be a Redis URL, ${EXAMPLE}`);
  }
  const chunks = chunksText.map((text) => splitChunk(setting, text));
  const first = chunks[0] as Chunk;
  const schemes = new Set(chunks.map((c) => c.scheme));
  if (chunks.length > 1 && schemes.has('sentinel') && schemes.size > 1) {
    fail(
      setting,
      'a list mixes sentinel:// with other URLs; give sentinels only (sentinel://h1:26379;sentinel://h2:26379 with master_name), or Redis servers only for failover (redis://a:6379;redis://b:6379)',
    );
  }
  if (chunks.length > 1 && first.scheme !== 'sentinel') return failoverTarget(setting, chunksText, chunks, context);
  const query = queryOf(setting, chunks, inList);
  const socket = socketOptions(setting, query);
  const transport = context.transportOptions;
  if (transport !== undefined && transport !== null && !plainObject(transport)) {
    fail(optionsSetting, 'must be a dict');
  }
  const options = (transport ?? {}) as Record<string, unknown>;
  const dict = sslDict(sslSetting, context.useSsl);

  if (first.scheme === 'redis+socket' || first.scheme === 'unix') {
    if (first.host !== '') {
      fail(setting, `a socket URL has no host: write ${first.scheme}:///path/to/redis.sock (three slashes)`);
    }
    if (first.path === '' || first.path === '/')
      fail(setting, `${first.scheme}:// needs the socket's path, as in ${first.scheme}:///run/redis/redis.sock`);
    if (dict) fail(sslSetting, `TLS is set but ${setting} is a unix socket URL`);
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
      fail(optionsSetting, 'master_name must be the name of the Sentinel master group, a non-empty string');
    }
    if (masterName === undefined && context.requireMasterName !== false) {
      fail(
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
    fail(sslSetting, `TLS settings are given with a redis:// ${setting}; TLS needs rediss:// (as Celery says)`);
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

function userinfo(t: TargetAuth): string {
  if (t.username === undefined && t.password === undefined) return '';
  const user = t.username === undefined ? '' : encodeURIComponent(t.username);
  return t.password === undefined ? `${user}@` : `${user}:${encodeURIComponent(t.password)}@`;
}

function hostText(host: string): string {
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
      return `${target.tls ? 'rediss' : 'redis'}://${userinfo(target)}${hostText(target.host)}:${target.port}/${target.db}${queryText(
        [...timeout, ...(target.tls ? tlsQueryPairs(target.tls) : [])],
      )}`;
    case 'socket':
      return `${target.scheme}://${userinfo(target)}${target.path}${queryText([
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
            ? `sentinel://${userinfo(target)}${hostText(s.host)}:${s.port}/${target.db}${queryText(pairs)}`
            : `sentinel://${hostText(s.host)}:${s.port}`,
        )
        .join(';');
    }
    case 'failover': {
      const urls = target.alternates.map(formatRedisTarget);
      if (target.strategy !== 'round-robin') {
        const head = urls[0] as string;
        urls[0] = `${head}${head.includes('?') ? '&' : '?'}${FAILOVER_KEY}=${target.strategy}`;
      }
      return urls.join(';');
    }
  }
}
