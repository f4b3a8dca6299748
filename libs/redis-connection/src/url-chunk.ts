import { failRedisUrl } from './redis-url-failure.js';

/** The URL schemes Celeriac connects with, as kombu and Celery name them for Redis. */
export const REDIS_URL_SCHEMES = ['redis', 'rediss', 'redis+socket', 'unix', 'sentinel'] as const;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):\/\//;
/** Example URLs for the messages of a URL that cannot be read. */
export const REDIS_URL_EXAMPLE =
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

/** One URL of a `;` list (or the only one), split as kombu splits it; user info already %-decoded. */
export interface UrlChunk {
  scheme: string;
  username?: string;
  password?: string;
  host: string;
  port?: number;
  path: string;
  query: URLSearchParams;
}

function decode(setting: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return failRedisUrl(setting, `the ${what} is not valid %-encoding`);
  }
}

/** Splits one URL as kombu (`urlparse` with HTTP semantics) reads it; never repeats the user info. */
export function splitUrlChunk(setting: string, url: string): UrlChunk {
  if (url.length === 0 || /\s/.test(url))
    failRedisUrl(setting, `must be a Redis URL without spaces, ${REDIS_URL_EXAMPLE}`);
  const scheme = urlScheme(url);
  if (scheme === undefined) failRedisUrl(setting, `must be a URL with a scheme, ${REDIS_URL_EXAMPLE}`);
  if (!(REDIS_URL_SCHEMES as readonly string[]).includes(scheme)) {
    const later = LATER[scheme];
    failRedisUrl(
      setting,
      later === undefined
        ? `the scheme "${scheme}://" is not one Celeriac connects with; use redis://, rediss://, redis+socket://, unix:// or sentinel://, ${REDIS_URL_EXAMPLE}`
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
  const chunk: UrlChunk = { scheme, host: '', path, query };
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
    if (close === -1) failRedisUrl(setting, 'an IPv6 host needs its closing "]", as in "redis://[::1]:6379/0"');
    chunk.host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) failRedisUrl(setting, `must be a Redis URL, ${REDIS_URL_EXAMPLE}`);
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
        failRedisUrl(
          setting,
          `the text after "${scheme}://${chunk.host}:" is not a port number (1 to 65535); if it is a password, put it before the host, as in "${scheme}://:password@host:6379/0"`,
        );
      }
      failRedisUrl(
        setting,
        `the port "${port.slice(0, 20)}" is not a port number; use 1 to 65535, as in "redis://host:6379/0"`,
      );
    }
    chunk.port = number;
  }
  return chunk;
}
