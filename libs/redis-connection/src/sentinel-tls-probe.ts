import { type ConnectionOptions, connect } from 'node:tls';
import type { RedisEndpoint } from './redis-url.js';

/**
 * The error of one TLS handshake with a sentinel, or undefined when it succeeds (or times out).
 * ioredis drops the errors of its connections to the sentinels (it reports only "All sentinels
 * are unreachable ... Connection is closed."): this handshake finds out why, e.g. a refused
 * certificate, so that it can be reported once instead of retried for good.
 */
export function probeSentinelTls(
  sentinel: RedisEndpoint,
  options: ConnectionOptions,
  timeoutMs = 2_000,
): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: sentinel.host, port: sentinel.port, ...options });
    const done = (error: Error | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('secureConnect', () => done(undefined));
    socket.once('error', (error) => done(error));
  });
}
