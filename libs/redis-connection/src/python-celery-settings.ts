import { certReqsOf, type SslCertReqs } from './cert-reqs.js';
import { RedisUrlError } from './errors.js';
import { urlHost, urlUserinfo } from './format-redis-target.js';
import type { RedisTarget, RedisTlsSettings } from './redis-url.js';
import { type RedisRole, redisTargetFromSettings } from './url-from-settings.js';

const NAMES = {
  broker: { url: 'broker_url', options: 'broker_transport_options', ssl: 'broker_use_ssl' },
  result_backend: { url: 'result_backend', options: 'result_backend_transport_options', ssl: 'redis_backend_use_ssl' },
} as const;

/** kombu's / redis-py's TLS dict: lowercase cert reqs (redis-py's SSLConnection takes those, Celery maps them). */
function sslDict(tls: RedisTlsSettings): Record<string, unknown> {
  const dict: Record<string, unknown> = { ssl_cert_reqs: tls.certReqs };
  if (tls.caCerts !== undefined) dict.ssl_ca_certs = tls.caCerts;
  if (tls.certFile !== undefined) dict.ssl_certfile = tls.certFile;
  if (tls.keyFile !== undefined) dict.ssl_keyfile = tls.keyFile;
  // Python refuses CERT_NONE with a host name check; otherwise check it as Node does.
  dict.ssl_check_hostname = tls.certReqs !== 'none' && tls.checkHostname;
  return dict;
}

/** One connection in the forms Debian's Celery 5.2 reads: URL, transport option entries, TLS dict. */
function pythonForm(
  role: RedisRole,
  target: RedisTarget,
): { url: string; options: Record<string, unknown>; ssl: Record<string, unknown> | null } {
  const options: Record<string, unknown> = {};
  let query = '';
  if (target.connectTimeoutMs !== undefined) {
    // kombu reads it as a transport option; Celery's backend from the URL (redis-py's parsers).
    if (role === 'broker') options.socket_connect_timeout = target.connectTimeoutMs / 1000;
    else query = `?socket_connect_timeout=${target.connectTimeoutMs / 1000}`;
  }
  switch (target.kind) {
    case 'tcp':
      return {
        url: `${target.tls ? 'rediss' : 'redis'}://${urlUserinfo(target)}${urlHost(target.host)}:${target.port}/${target.db}${query}`,
        options,
        ssl: target.tls ? sslDict(target.tls) : null,
      };
    case 'socket':
      // unix:// is redis-py's spelling; kombu and Celery read redis+socket:// with the db as virtual_host.
      return {
        url: `redis+socket://${urlUserinfo(target)}${target.path}?virtual_host=${target.db}`,
        options,
        ssl: null,
      };
    case 'sentinel': {
      options.master_name = target.masterName;
      const kwargs: Record<string, unknown> = {};
      if (target.sentinelPassword !== undefined) kwargs.password = target.sentinelPassword;
      if (target.sentinelUsername !== undefined) kwargs.username = target.sentinelUsername;
      // redis-py's Sentinel connections take the ssl keys of any Redis connection.
      if (target.sentinelTls) Object.assign(kwargs, { ssl: true, ...sslDict(target.sentinelTls) });
      if (Object.keys(kwargs).length > 0) options.sentinel_kwargs = kwargs;
      const url = target.sentinels
        .map(
          (s, i) =>
            `sentinel://${i === 0 ? urlUserinfo(target) : ''}${urlHost(s.host)}:${s.port}${i === 0 ? `/${target.db}` : ''}`,
        )
        .join(';');
      return { url: `${url}${query}`, options, ssl: target.tls ? sslDict(target.tls) : null };
    }
    case 'failover': {
      const forms = target.alternates.map((alternate) => pythonForm(role, alternate));
      const first = forms[0] as ReturnType<typeof pythonForm>;
      // Celery 5.2's Redis result backend reads one URL: Python processes store results on the first.
      if (role === 'result_backend') return first;
      // kombu's TLS (broker_use_ssl) is one setting for every URL of the list.
      const ssl = forms.find((form) => form.ssl !== null)?.ssl ?? null;
      return { url: forms.map((form) => form.url).join(';'), options: first.options, ssl };
    }
  }
}

/**
 * The connection settings of a Celery config rewritten so that Debian's Python Celery 5.2 connects
 * exactly where and how a Celeriac worker does: `unix://` becomes `redis+socket://`, ssl_* from a
 * query go to `broker_use_ssl` / `redis_backend_use_ssl` (with ssl_cert_reqs always set, which
 * Celery's backend requires), master_name and sentinel_kwargs from a query to the transport
 * options, TLS to the sentinels to `sentinel_kwargs`, a broker failover list's strategy to
 * `broker_failover_strategy` (a result backend list gives Python its first URL: Celery 5.2's Redis
 * backend reads one). Settings that do not parse are left as they are (validation reports them).
 */
export function pythonCelerySettings(settings: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...settings };
  for (const role of ['broker', 'result_backend'] as const) {
    const names = NAMES[role];
    if (settings[names.url] === undefined || settings[names.url] === null) continue;
    let target: RedisTarget;
    try {
      target = redisTargetFromSettings(role, settings);
    } catch (error) {
      if (error instanceof RedisUrlError) continue;
      throw error;
    }
    const form = pythonForm(role, target);
    out[names.url] = form.url;
    const existing = settings[names.options];
    const merged = {
      ...(existing !== null && typeof existing === 'object' ? (existing as Record<string, unknown>) : {}),
      ...form.options,
    };
    if (Object.keys(merged).length > 0) out[names.options] = merged;
    if (form.ssl) out[names.ssl] = form.ssl;
    else delete out[names.ssl];
    if (role === 'broker' && target.kind === 'failover') out.broker_failover_strategy = target.strategy;
  }
  const amqpSsl = amqpSslWithNumericCertReqs(out.broker_use_ssl);
  if (amqpSsl !== undefined) out.broker_use_ssl = amqpSsl;
  return out;
}

/** Python's `ssl.CERT_*` values. */
const CERT_REQS_NUMBER: Readonly<Record<SslCertReqs, number>> = { none: 0, optional: 1, required: 2 };

/**
 * pyamqp's `broker_use_ssl` dict with `cert_reqs` as Python's number: a config carries the name
 * (`'CERT_REQUIRED'`), which Python code would write as `ssl.CERT_REQUIRED`, but py-amqp hands it to
 * `SSLContext.verify_mode`, which takes only the number (a name crashes the worker with a
 * TypeError). Undefined when there is nothing to rewrite.
 */
function amqpSslWithNumericCertReqs(ssl: unknown): Record<string, unknown> | undefined {
  if (ssl === null || typeof ssl !== 'object' || Array.isArray(ssl)) return undefined;
  const given = (ssl as Record<string, unknown>).cert_reqs;
  const reqs = typeof given === 'string' ? certReqsOf(given) : undefined;
  return reqs === undefined ? undefined : { ...(ssl as Record<string, unknown>), cert_reqs: CERT_REQS_NUMBER[reqs] };
}
