import type { Options } from 'amqplib';

/** URL schemes that select the RabbitMQ transport (kombu's `amqp`, `amqps`, `pyamqp`). */
export const AMQP_URL_SCHEMES = ['amqp', 'amqps', 'pyamqp'] as const;

/** Whether `url` names a RabbitMQ broker (`amqp://`, `amqps://`, `pyamqp://`). */
export function isAmqpUrl(url: unknown): url is string {
  return typeof url === 'string' && /^(amqp|amqps|pyamqp):\/\//i.test(url);
}

/**
 * amqplib's connect options for a kombu URL: `pyamqp://` is plain AMQP, user and password are
 * URL-decoded, and the vhost is the path after the first `/` (URL-decoded), `/` when empty
 * (`amqp://host//` and `amqp://host/` both mean vhost `/`, as in kombu).
 */
export function amqpConnectOptions(url: string, heartbeatSec: number): Options.Connect {
  const u = new URL(url.replace(/^pyamqp:/i, 'amqp:'));
  const tls = u.protocol.toLowerCase() === 'amqps:';
  const vhost = decodeURIComponent(u.pathname.slice(1)) || '/';
  return {
    protocol: tls ? 'amqps' : 'amqp',
    hostname: u.hostname || 'localhost',
    port: u.port ? Number(u.port) : tls ? 5671 : 5672,
    username: u.username ? decodeURIComponent(u.username) : 'guest',
    password: u.password ? decodeURIComponent(u.password) : 'guest',
    vhost,
    heartbeat: heartbeatSec,
  };
}
