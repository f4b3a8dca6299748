import {
  AmqpError,
  isAmqpUrl,
  parseAmqpUrlList,
  parseAmqpUseSsl,
  parseFailoverStrategy,
} from '@celeriac/broker-amqp/url';
import { parseRedisUrl, REDIS_URL_SCHEMES, RedisUrlError } from '@celeriac/redis-connection/url';
import type { Check } from './checks.js';

/**
 * The URL schemes a Celeriac worker and client connect with: libs/redis-connection reads every
 * one (the same parser checks them here), and hands them to ioredis.
 */
export const SUPPORTED_URL_SCHEMES = REDIS_URL_SCHEMES;

/**
 * A broker or result backend URL (`setting` names it in messages), read by the parser every
 * Celeriac connection uses. A sentinel:// URL's master_name may come from another layer, so it is
 * not required here; the worker and the client refuse to start without it. Messages never repeat
 * text that may be a password.
 */
export function checkCeleryUrl(setting: string): Check {
  return (value, add) => {
    // RabbitMQ URLs and failover lists go through the parser the AMQP broker itself uses.
    if (setting.startsWith('broker') && isAmqpUrl(value))
      return addAmqpProblem(add, () => parseAmqpUrlList(value, setting));
    try {
      parseRedisUrl(value, { setting, requireMasterName: false });
    } catch (error) {
      if (!(error instanceof RedisUrlError)) throw error;
      add([], error.message);
    }
  };
}

/**
 * `broker_use_ssl` / `redis_backend_use_ssl`: true, false, or a dict. For the broker the dict is
 * either kombu's Redis form (`ssl_*` keys) or its pyamqp form for RabbitMQ (`ca_certs`,
 * `certfile`, `keyfile`, `cert_reqs`, `server_hostname`), each read by the parser that uses it.
 */
export function checkCeleryTlsSetting(setting: string): Check {
  return (value, add) => {
    if (setting === 'broker_use_ssl' && isAmqpTlsDict(value))
      return addAmqpProblem(add, () => parseAmqpUseSsl(value, setting));
    try {
      parseRedisUrl('rediss://localhost', { useSsl: value, useSslSetting: setting });
    } catch (error) {
      if (!(error instanceof RedisUrlError)) throw error;
      add([], error.message);
    }
  };
}

/** `broker_failover_strategy`: kombu's `round-robin` or `shuffle`, over a `;` list of broker URLs. */
export const checkFailoverStrategy: Check = (value, add) => addAmqpProblem(add, () => parseFailoverStrategy(value));

const AMQP_TLS_KEYS = new Set(['ca_certs', 'certfile', 'keyfile', 'cert_reqs', 'server_hostname']);

function isAmqpTlsDict(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).some((key) => AMQP_TLS_KEYS.has(key))
  );
}

function addAmqpProblem(
  add: (path: readonly (string | number)[], message: string) => void,
  parse: () => unknown,
): void {
  try {
    parse();
  } catch (error) {
    if (!(error instanceof AmqpError)) throw error;
    add([], error.message);
  }
}
