import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { redactUrl } from '@celeriac/logger';
import { tlsProblem } from '@celeriac/redis-connection';
import amqp, { type ChannelModel } from 'amqplib';
import { AmqpError } from './amqp-errors.js';
import { type FailoverStrategy, failoverOrder } from './amqp-failover.js';
import type { AmqpTlsOptions } from './amqp-tls-options.js';
import { amqpConnectOptions, isAmqpsUrl } from './amqp-url.js';

/** Where and how to connect: the failover list, its strategy, TLS and the heartbeat. */
export interface AmqpEndpoints {
  urls: readonly string[];
  strategy: FailoverStrategy;
  /** `broker_use_ssl` read; null: TLS only for amqps:// URLs, with the system CAs. */
  tls: AmqpTlsOptions | null;
  heartbeatSec: number;
  /** How long one URL's TCP (and TLS) connect may take before the next is tried (`broker_connection_timeout`, kombu's 4 s). */
  connectTimeoutMs: number;
  /** AMQP client properties (e.g. `connection_name`, which `rabbitmqctl list_connections` shows). */
  clientProperties?: Record<string, unknown>;
}

/** `broker_connection_timeout` (seconds, kombu's default 4) as ms; 0 or null: no timeout but the OS's. */
export function connectTimeoutMsOf(value: unknown): number {
  if (value === null || value === 0) return 0;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value * 1000 : 4_000;
}

/** A connection and the index of the URL that answered. */
export interface AmqpConnected {
  connection: ChannelModel;
  index: number;
}

/**
 * Node's TLS options for `broker_use_ssl`: the CA, client certificate and key read from their
 * files (AMQP_TLS_FILE when one cannot be read); CERT_NONE checks neither chain nor host name.
 * CERT_OPTIONAL is CERT_REQUIRED on a client (a server always sends a certificate), as in Python.
 */
export function amqpSocketOptions(tls: AmqpTlsOptions | null, hostname: string): ConnectionOptions {
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new AmqpError(
        'AMQP_TLS_FILE',
        `broker_use_ssl: ${what} ${file} cannot be read (${(error as Error).message}); give a readable PEM file`,
        { cause: error },
      );
    }
  };
  const servername = tls?.serverHostname ?? hostname;
  // SNI takes host names only (RFC 6066); an IP is still checked against the certificate's SANs.
  const options: ConnectionOptions = isIP(servername) === 0 ? { servername } : {};
  const ca = read('ca_certs', tls?.caCerts);
  const cert = read('certfile', tls?.certfile);
  const key = read('keyfile', tls?.keyfile);
  if (ca !== undefined) options.ca = [ca];
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  if (tls?.certReqs === 'none') {
    options.rejectUnauthorized = false;
    options.checkServerIdentity = () => undefined;
  }
  return options;
}

/** A refused TLS handshake as AMQP_TLS_CERTIFICATE with advice in kombu's pyamqp keys; undefined for other errors. */
function amqpTlsProblem(error: unknown, shownUrl: string): AmqpError | undefined {
  const problem = tlsProblem(error, shownUrl);
  if (problem === undefined) return undefined;
  const code = String((error as { code?: unknown }).code);
  const advice = /ALTNAME|HOSTNAME/.test(code)
    ? "the server's certificate is not for this host name: connect with a name it lists, or set broker_use_ssl.server_hostname"
    : code.startsWith('ERR_SSL_')
      ? 'the TLS handshake failed (a port without TLS, or a server that wants a client certificate: broker_use_ssl.certfile/keyfile)'
      : "the server's certificate was refused: set broker_use_ssl.ca_certs to the CA that signed it, or cert_reqs to CERT_NONE to skip the check";
  return new AmqpError(
    'AMQP_TLS_CERTIFICATE',
    `TLS to RabbitMQ at ${shownUrl} failed: ${advice}: ${(error as Error).message} (${code})`,
    {
      cause: error,
    },
  );
}

/**
 * One connect attempt over the failover list, in `failoverOrder` from `start`: the first URL that
 * answers wins. A refused TLS certificate ends the attempt at once (AMQP_TLS_CERTIFICATE: another
 * try cannot cure it); otherwise the last URL's error is thrown when none answered.
 */
export async function connectFirst(e: AmqpEndpoints, start: number): Promise<AmqpConnected> {
  let last: unknown = new Error('no broker URL');
  for (const index of failoverOrder(e.urls.length, e.strategy, start)) {
    const url = e.urls[index] as string;
    const secure = e.tls !== null || isAmqpsUrl(url);
    const options = amqpConnectOptions(url, e.heartbeatSec, secure);
    try {
      const socket = secure ? amqpSocketOptions(e.tls, options.hostname ?? 'localhost') : {};
      // TCP_NODELAY, as py-amqp sets it: with Nagle's algorithm a small frame (an ack, a publish)
      // written while an earlier one is unacknowledged waits for the peer's delayed ACK.
      const socketOptions = {
        ...socket,
        timeout: e.connectTimeoutMs,
        noDelay: true,
        ...(e.clientProperties ? { clientProperties: e.clientProperties } : {}),
      };
      return { connection: await amqp.connect(options, socketOptions), index };
    } catch (error) {
      if (error instanceof AmqpError) throw error;
      const tls = secure ? amqpTlsProblem(error, redactUrl(url)) : undefined;
      if (tls !== undefined) throw tls;
      last = error;
    }
  }
  throw last;
}
