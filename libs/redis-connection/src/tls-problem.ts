import { RedisTlsError } from './errors.js';

/** OpenSSL's verdicts on a server certificate, as Node reports them in `err.code`. */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A TLS failure that a retry cannot cure (a refused certificate, a server that wants a client
 * certificate, a port that does not speak TLS), as one clear error naming the URL (redacted by the
 * caller) and what to change; undefined for anything else (refused connection, reset, timeout).
 */
export function tlsProblem(error: unknown, shownUrl: string): RedisTlsError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const reason = `${(error as Error).message} (${code})`;
  let advice: string;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    advice =
      "the server's certificate is not for this host name: connect with a name the certificate lists, or set ssl_check_hostname=false";
  } else if (CERTIFICATE_CODES.has(code)) {
    advice =
      "the server's certificate was refused: set ssl_ca_certs to the CA file that signed it, or ssl_cert_reqs=CERT_NONE to skip the check";
  } else if (/^ERR_SSL_TLSV1[0-9]*_ALERT_|^ERR_SSL_SSLV3_ALERT_/.test(code)) {
    // An alert sent by the server: it refused this client (Redis with tls-auth-clients yes and no
    // or an untrusted client certificate answers so).
    advice =
      'the server refused the TLS handshake; when it requires a client certificate, set ssl_certfile and ssl_keyfile to one its CA signed';
  } else if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    advice = 'the server does not speak TLS on this port: use redis:// here, or the port of its tls-port';
  } else if (code.startsWith('ERR_SSL_')) {
    advice = 'the TLS handshake failed';
  } else {
    return undefined;
  }
  return new RedisTlsError('REDIS_TLS_CERTIFICATE', `TLS to ${shownUrl} failed: ${advice}: ${reason}`, {
    cause: error,
  });
}
