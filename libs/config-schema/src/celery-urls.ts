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
    if (setting.startsWith('broker') && typeof value === 'string' && AMQP_SCHEME.test(value)) {
      const problem = amqpUrlProblem(value);
      if (problem !== null) add([], `${setting}: ${problem}`);
      return;
    }
    try {
      parseRedisUrl(value, { setting, requireMasterName: false });
    } catch (error) {
      if (!(error instanceof RedisUrlError)) throw error;
      add([], error.message);
    }
  };
}

/** `broker_use_ssl` / `redis_backend_use_ssl`: true, false, or a dict of kombu's ssl_* keys with valid values. */
export function checkCeleryTlsSetting(setting: string): Check {
  return (value, add) => {
    try {
      parseRedisUrl('rediss://localhost', { useSsl: value, useSslSetting: setting });
    } catch (error) {
      if (!(error instanceof RedisUrlError)) throw error;
      add([], error.message);
    }
  };
}

/** Broker URL schemes of RabbitMQ that Celeriac connects with (@celeriac/broker-amqp); results stay on Redis. */
const AMQP_SCHEME = /^(amqp|amqps|pyamqp):\/\//i;

/**
 * What is wrong with a RabbitMQ URL (`amqp://user:pass@host:5672/vhost`), or null. The message
 * names the part that is wrong, never the text of the user or password.
 */
function amqpUrlProblem(url: string): string | null {
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/^pyamqp:/i, 'amqp:'));
  } catch {
    return `the ${scheme}:// URL cannot be read; write it as ${scheme}://user:password@host:5672/vhost`;
  }
  if (parsed.hostname === '')
    return `the ${scheme}:// URL has no host; write it as ${scheme}://user:password@host:5672/vhost`;
  if (parsed.search !== '') {
    return `the ${scheme}:// URL has query options, which Celeriac does not read yet; remove them (TLS: amqps:// with broker_use_ssl)`;
  }
  return null;
}
