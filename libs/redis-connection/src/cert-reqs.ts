/** Python's `ssl.CERT_*` choice: whether the server's certificate is checked. */
export type SslCertReqs = 'required' | 'optional' | 'none';

const CERT_REQS: Readonly<Record<string, SslCertReqs>> = {
  CERT_REQUIRED: 'required',
  CERT_OPTIONAL: 'optional',
  CERT_NONE: 'none',
  required: 'required',
  optional: 'optional',
  none: 'none',
  // Python's ssl.CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED values, as a JSON config carries them.
  '0': 'none',
  '1': 'optional',
  '2': 'required',
};

/**
 * The certificate check a kombu TLS option names (`ssl_cert_reqs` of a Redis URL or
 * `broker_use_ssl`, `cert_reqs` of pyamqp's): a name, its short form, or Python's number; undefined
 * when it names none.
 */
export function certReqsOf(value: unknown): SslCertReqs | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return Object.hasOwn(CERT_REQS, String(value)) ? CERT_REQS[String(value)] : undefined;
}
