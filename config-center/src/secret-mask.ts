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
    const record = value as Record<string, unknown>;
    // A diff entry names the key in its path: { path: 'programs.w.env.API_TOKEN', before, after }.
    const diffOfSecret =
      typeof record.path === 'string' &&
      ('before' in record || 'after' in record) &&
      SECRET_KEY.test(lastSegment(record.path));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const secret = SECRET_KEY.test(key) || (diffOfSecret && (key === 'before' || key === 'after'));
      out[key] = secret && child !== null && typeof child !== 'object' ? '***' : maskSecrets(child);
    }
    return out;
  }
  return value;
}

function lastSegment(path: string): string {
  const match = /(?:\.([A-Za-z0-9_]+)|\["((?:[^"\\]|\\.)*)"\])$/.exec(path);
  return match?.[1] ?? match?.[2] ?? path;
}
