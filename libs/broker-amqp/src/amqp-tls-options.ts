import { certReqsOf, type SslCertReqs } from '@celeriac/redis-connection/url';
import { AmqpError } from './amqp-errors.js';

/** Whether the server's certificate is checked (Python's `ssl.CERT_*`). */
export type AmqpCertReqs = SslCertReqs;

/** `broker_use_ssl` for RabbitMQ, read: file paths and the check level (kombu's pyamqp keys). */
export interface AmqpTlsOptions {
  caCerts?: string;
  certfile?: string;
  keyfile?: string;
  certReqs: AmqpCertReqs;
  serverHostname?: string;
}

const KEYS = ['ca_certs', 'certfile', 'keyfile', 'cert_reqs', 'server_hostname'] as const;

/**
 * Reads `broker_use_ssl` as kombu's pyamqp transport takes it for RabbitMQ: `true` (TLS, the
 * system CAs, CERT_REQUIRED), `false`/absent (null: TLS only if the URL is amqps://), or a dict of
 * `ca_certs`, `certfile`, `keyfile`, `cert_reqs` (ssl.CERT_* name, its number, or
 * required/optional/none) and `server_hostname`. A dict means TLS, as in kombu. AMQP_URL_INVALID
 * names the key that is wrong (e.g. the Redis spelling `ssl_ca_certs`).
 */
export function parseAmqpUseSsl(value: unknown, setting = 'broker_use_ssl'): AmqpTlsOptions | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return { certReqs: 'required' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AmqpError(
      'AMQP_URL_INVALID',
      `${setting}: must be true, false or a dict of ${KEYS.join(', ')}, got ${typeof value}`,
    );
  }
  const dict = value as Record<string, unknown>;
  const unknown = Object.keys(dict).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new AmqpError(
      'AMQP_URL_INVALID',
      `${setting}: for a RabbitMQ broker the keys are kombu's pyamqp ones (${KEYS.join(', ')}); ` +
        `${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not one (ssl_* names are the Redis transport's)`,
    );
  }
  const text = (key: (typeof KEYS)[number]): string | undefined => {
    const v = dict[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '')
      throw new AmqpError('AMQP_URL_INVALID', `${setting}: ${key} must be a non-empty string`);
    return v;
  };
  const reqsValue = dict.cert_reqs;
  const certReqs = reqsValue === undefined || reqsValue === null ? 'required' : certReqsOf(reqsValue);
  if (certReqs === undefined) {
    throw new AmqpError(
      'AMQP_URL_INVALID',
      `${setting}: cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE (or 2, 1, 0), got ${JSON.stringify(reqsValue)}`,
    );
  }
  const options: AmqpTlsOptions = { certReqs };
  const ca = text('ca_certs');
  const cert = text('certfile');
  const key = text('keyfile');
  const host = text('server_hostname');
  if (ca !== undefined) options.caCerts = ca;
  if (cert !== undefined) options.certfile = cert;
  if (key !== undefined) options.keyfile = key;
  if (host !== undefined) options.serverHostname = host;
  if (key !== undefined && cert === undefined) {
    throw new AmqpError(
      'AMQP_URL_INVALID',
      `${setting}: keyfile needs certfile (the client certificate it belongs to)`,
    );
  }
  return options;
}
