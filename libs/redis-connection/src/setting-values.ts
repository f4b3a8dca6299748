import { failRedisUrl } from './redis-url-failure.js';

/** A yes/no value of a URL query or a setting dict (true/yes/1/on, false/no/0/off, or a boolean). */
export function booleanText(setting: string, key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|yes|1|on)$/i.test(value)) return true;
  if (typeof value === 'string' && /^(false|no|0|off)$/i.test(value)) return false;
  return failRedisUrl(setting, `${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** A dict: an object that is neither null nor an array. */
export function plainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
