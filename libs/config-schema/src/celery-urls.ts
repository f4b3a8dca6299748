import type { Check } from './checks.js';

/**
 * The URL schemes a Celeriac worker can connect with today: libs/redis-connection hands the URL to
 * ioredis, and the client (which tasks publish through) takes only these two.
 */
export const SUPPORTED_URL_SCHEMES = ['redis', 'rediss'] as const;

const ACCEPTED = 'use redis:// or rediss://, e.g. "redis://host:6379/0"';
const IN_URL = 'in a redis:// or rediss:// URL such as';

/** Schemes Celery knows that Celeriac will take later: say so instead of "unknown". */
const NOT_YET: Record<string, string> = {
  amqp: 'RabbitMQ (amqp://) is not supported yet',
  amqps: 'RabbitMQ (amqps://) is not supported yet',
  pyamqp: 'RabbitMQ (pyamqp://) is not supported yet',
  librabbitmq: 'RabbitMQ (librabbitmq://) is not supported yet',
  sentinel: 'Redis Sentinel (sentinel://) is not supported yet',
  'redis+socket': 'Redis on a unix socket (redis+socket://) is not supported yet',
  unix: 'Redis on a unix socket (unix://) is not supported yet',
};

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]{0,30}):\/\//;

/**
 * What is wrong with one URL, or undefined when a worker can connect with it. Messages name the
 * scheme, the port or the part that is wrong, and never repeat text that may be a password.
 */
function urlProblem(setting: string, url: string): string | undefined {
  const oneUrl = `${setting} must be one redis:// or rediss:// URL such as "redis://host:6379/0"`;
  if (url.length === 0 || /\s/.test(url)) return oneUrl;
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return oneUrl;
  if (!(SUPPORTED_URL_SCHEMES as readonly string[]).includes(scheme)) {
    const notYet = NOT_YET[scheme];
    return notYet === undefined
      ? `${setting} uses the scheme "${scheme}://", which a Celeriac worker cannot connect with; ${ACCEPTED}`
      : `${setting} uses the scheme "${scheme}://": ${notYet}; ${ACCEPTED}`;
  }
  const rest = url.slice(scheme.length + 3);
  // As ioredis (Node's url.parse) reads it: the authority ends at the first "/", "?" or "#", and
  // the user info at its last "@".
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const path = authorityEnd === -1 ? '' : (/^[^?#]*/.exec(rest.slice(authorityEnd))?.[0] ?? '');
  const at = authority.lastIndexOf('@');
  const hostPort = authority.slice(at + 1);
  let host: string;
  let port: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) return `${setting}: an IPv6 host needs its closing "]", ${IN_URL} "redis://[::1]:6379/0"`;
    host = hostPort.slice(0, close + 1);
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return oneUrl;
    port = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hostPort.indexOf(':');
    host = colon === -1 ? hostPort : hostPort.slice(0, colon);
    port = colon === -1 ? undefined : hostPort.slice(colon + 1);
  }
  if (port !== undefined) {
    const number = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(number >= 1 && number <= 65_535)) {
      // Without an "@", text after the host's ":" may be a password that lost its "@host".
      if (at === -1 && !/^\d+$/.test(port)) {
        return (
          `${setting}: the text after "${scheme}://${host}:" is not a port number (1 to 65535); if it is a password, ` +
          `put it before the host, ${IN_URL} "${scheme}://:password@host:6379/0"`
        );
      }
      return `${setting}: the port "${port.slice(0, 20)}" is not a port number; use 1 to 65535, ${IN_URL} "redis://host:6379/0"`;
    }
  }
  if (!/^(\/(\d+)?)?$/.test(path)) {
    return `${setting}: the path after the host must be a database number such as "/0", ${IN_URL} "redis://host:6379/0"`;
  }
  return undefined;
}

/** A broker or result backend URL (`setting` names it in messages); one URL, of a scheme a worker connects with. */
export function checkCeleryUrl(setting: string): Check {
  return (value, add) => {
    if (Array.isArray(value) || (typeof value === 'string' && value.includes(';'))) {
      add(
        [],
        `${setting}: a list of URLs (failover) is not supported yet; give one redis:// or rediss:// URL such as "redis://host:6379/0"`,
      );
      return;
    }
    if (typeof value !== 'string') {
      add([], `${setting} must be one redis:// or rediss:// URL such as "redis://host:6379/0"`);
      return;
    }
    const problem = urlProblem(setting, value);
    if (problem !== undefined) add([], problem);
  };
}
