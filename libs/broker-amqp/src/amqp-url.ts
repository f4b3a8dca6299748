import type { Options } from 'amqplib';
import { AmqpError } from './amqp-errors.js';

export { AmqpError, type AmqpErrorCode } from './amqp-errors.js';
export { type FailoverStrategy, failoverOrder, parseFailoverStrategy } from './amqp-failover.js';
export { type AmqpCertReqs, type AmqpTlsOptions, parseAmqpUseSsl } from './amqp-tls-options.js';

/** URL schemes that select the RabbitMQ transport (kombu's `amqp`, `amqps`, `pyamqp`). */
export const AMQP_URL_SCHEMES = ['amqp', 'amqps', 'pyamqp'] as const;

const AMQP_SCHEME = /^(amqp|amqps|pyamqp):\/\//i;
const FORM = 'amqp://user:password@host:5672/vhost';

/** Whether `url` names a RabbitMQ broker (`amqp://`, `amqps://`, `pyamqp://`, or a `;` list starting with one). */
export function isAmqpUrl(url: unknown): url is string {
  return typeof url === 'string' && AMQP_SCHEME.test(url.trim());
}

/**
 * The URLs of kombu's failover list (`amqp://h1;amqp://h2`, `;`-separated, as Celery's
 * `broker_url` takes it), each checked: an AMQP scheme, readable, with a host and no query
 * options (Celeriac reads none; TLS goes in `broker_use_ssl`). AMQP_URL_INVALID names the
 * setting, the entry's position and the part that is wrong, never the user or password.
 */
export function parseAmqpUrlList(value: unknown, setting = 'broker_url'): string[] {
  if (typeof value !== 'string') throw new AmqpError('AMQP_URL_INVALID', `${setting}: must be a string like ${FORM}`);
  const urls = value
    .split(';')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (urls.length === 0) throw new AmqpError('AMQP_URL_INVALID', `${setting}: is empty; write it as ${FORM}`);
  urls.forEach((url, i) => {
    const problem = amqpUrlProblem(url);
    if (problem !== null) {
      const where = urls.length > 1 ? ` (entry ${i + 1} of the ;-separated list)` : '';
      throw new AmqpError('AMQP_URL_INVALID', `${setting}${where}: ${problem}`);
    }
  });
  return urls;
}

function amqpUrlProblem(url: string): string | null {
  if (!AMQP_SCHEME.test(url)) {
    return `every URL of a RabbitMQ failover list must be amqp://, amqps:// or pyamqp:// (write it as ${FORM})`;
  }
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  const form = FORM.replace('amqp', scheme);
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/^pyamqp:/i, 'amqp:'));
  } catch {
    return `the ${scheme}:// URL cannot be read; write it as ${form}`;
  }
  if (parsed.hostname === '') return `the ${scheme}:// URL has no host; write it as ${form}`;
  if (parsed.search !== '') {
    return `the ${scheme}:// URL has query options, which Celeriac does not read; remove them (TLS options go in broker_use_ssl)`;
  }
  return null;
}

/** Whether `url` (one URL, not a list) asks for TLS by its scheme (`amqps://`). */
export function isAmqpsUrl(url: string): boolean {
  return /^amqps:/i.test(url.trim());
}

/**
 * amqplib's connect options for one kombu URL (the first of a `;` list): `pyamqp://` is plain AMQP,
 * user and password are URL-decoded, and the vhost is the path after the first `/` (URL-decoded),
 * `/` when empty (`amqp://host//` and `amqp://host/` both mean vhost `/`, as in kombu). `tls`
 * (`broker_use_ssl` on an `amqp://` URL, as kombu allows) makes it AMQPS, port 5671 by default.
 */
export function amqpConnectOptions(url: string, heartbeatSec: number, tls = false): Options.Connect {
  const one = (url.split(';')[0] ?? url).trim();
  const u = new URL(one.replace(/^pyamqp:/i, 'amqp:'));
  const secure = tls || u.protocol.toLowerCase() === 'amqps:';
  const vhost = decodeURIComponent(u.pathname.slice(1)) || '/';
  return {
    protocol: secure ? 'amqps' : 'amqp',
    hostname: u.hostname || 'localhost',
    port: u.port ? Number(u.port) : secure ? 5671 : 5672,
    username: u.username ? decodeURIComponent(u.username) : 'guest',
    password: u.password ? decodeURIComponent(u.password) : 'guest',
    vhost,
    heartbeat: heartbeatSec,
  };
}
