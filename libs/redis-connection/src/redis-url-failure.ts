import { RedisUrlError } from './errors.js';

/** Throws the {@link RedisUrlError} of a URL or setting: `<setting>: <message>`. */
export function failRedisUrl(setting: string, message: string): never {
  throw new RedisUrlError(`${setting}: ${message}`);
}
