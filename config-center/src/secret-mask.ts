import { redactSecrets } from '@celeriac/logger';

const SECRET_KEY = /(password|passwd|secret|token|api[_-]?key|credential)/i;

/**
 * A deep copy of a JSON value with secrets masked for readers that may not see them: passwords in
 * URLs and bearer tokens inside strings, and the whole value of keys that name a secret.
 */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && child !== null && typeof child !== 'object' ? '***' : maskSecrets(child);
    }
    return out;
  }
  return value;
}
