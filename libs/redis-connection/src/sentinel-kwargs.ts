import type { RedisTlsSettings } from './redis-target.js';
import { failRedisUrl } from './redis-url-failure.js';
import { booleanText, plainObject } from './setting-values.js';
import { SSL_KEYS, tlsSettings } from './url-tls-settings.js';

/** The sentinel_kwargs Celeriac honours: auth of the sentinels and TLS to them (redis-py's ssl keys). */
export interface SentinelKwargs {
  username?: string;
  password?: string;
  /** With `ssl: true`: TLS to the sentinels, with these ssl_* keys. */
  ssl?: Record<string, unknown>;
}

/** The transport options' `sentinel_kwargs`, checked: only the keys Celeriac honours, ssl_* only with `ssl: true`. */
export function sentinelKwargs(name: string, value: unknown): SentinelKwargs {
  if (value === undefined || value === null) return {};
  if (!plainObject(value)) failRedisUrl(name, `sentinel_kwargs must be a dict, got ${JSON.stringify(value)}`);
  const out: SentinelKwargs = {};
  const ssl: Record<string, unknown> = {};
  let sslOn: boolean | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (key === 'password' || key === 'username') {
      if (typeof v !== 'string') failRedisUrl(name, `sentinel_kwargs.${key} must be a string`);
      out[key] = v;
    } else if (key === 'ssl') {
      sslOn = booleanText(name, 'sentinel_kwargs.ssl', v);
    } else if ((SSL_KEYS as readonly string[]).includes(key)) {
      ssl[key] = v;
    } else {
      failRedisUrl(
        name,
        `sentinel_kwargs.${key} is not honoured by Celeriac; it reads sentinel_kwargs.password, .username, .ssl and ${SSL_KEYS.map((k) => `.${k}`).join(', ')}`,
      );
    }
  }
  if (sslOn !== true && Object.keys(ssl).length > 0) {
    failRedisUrl(
      name,
      'sentinel_kwargs has ssl_* keys without ssl: true (redis-py would ignore them): set sentinel_kwargs.ssl to true for TLS to the sentinels',
    );
  }
  if (sslOn === true) out.ssl = ssl;
  return out;
}

/** The sentinels' TLS from sentinel_kwargs, or from the sentinel_ssl* keys formatRedisTarget writes (those win). */
export function sentinelTlsSettings(
  setting: string,
  query: Map<string, string>,
  kwargs: SentinelKwargs,
  optionsSetting: string,
): RedisTlsSettings | undefined {
  const fromQuery = new Map<string, string>();
  for (const key of SSL_KEYS) {
    const value = query.get(`sentinel_${key}`);
    if (value !== undefined) fromQuery.set(key, value);
  }
  const sslText = query.get('sentinel_ssl');
  const on = sslText === undefined ? undefined : booleanText(setting, 'sentinel_ssl', sslText);
  if (on === false) return undefined;
  if (on === undefined && fromQuery.size === 0 && kwargs.ssl === undefined) return undefined;
  return tlsSettings(setting, fromQuery, kwargs.ssl ?? null, `${optionsSetting}.sentinel_kwargs`);
}
