import { certReqsOf, type SslCertReqs } from './cert-reqs.js';
import type { RedisTlsSettings } from './redis-target.js';
import { failRedisUrl } from './redis-url-failure.js';
import { booleanText, plainObject } from './setting-values.js';

/** The TLS keys kombu reads (redis-py's ssl_* arguments), in a `rediss://` query or a TLS dict. */
export const SSL_KEYS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_check_hostname'] as const;

function certReqs(setting: string, value: unknown): SslCertReqs {
  const found = certReqsOf(value);
  if (found === undefined) {
    failRedisUrl(
      setting,
      `ssl_cert_reqs must be CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE (or required / optional / none), got ${JSON.stringify(value)}`,
    );
  }
  return found;
}

function filePath(setting: string, key: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    failRedisUrl(setting, `${key} must be a file path, got ${JSON.stringify(value)}`);
  return value;
}

/** Merges TLS keys (URL query first, kombu's precedence, then the dict setting) into settings. */
export function tlsSettings(
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
    failRedisUrl(setting, 'ssl_keyfile is set without ssl_certfile: give the client certificate too');
  }
  return tls;
}

/** `broker_use_ssl` / `redis_backend_use_ssl`: null when off, {} for true, the dict otherwise. */
export function sslDict(name: string, value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return {};
  if (!plainObject(value)) {
    failRedisUrl(
      name,
      `must be true, false or a dict of ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, got ${JSON.stringify(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!(SSL_KEYS as readonly string[]).includes(key)) {
      failRedisUrl(name, `"${key}" is not a TLS key Celeriac reads; use ${SSL_KEYS.join(', ')}`);
    }
  }
  return value;
}
