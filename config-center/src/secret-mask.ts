import { redactSecrets } from '@celeriac/logger';

const SECRET_KEY = /(password|passwd|secret|token|api[_-]?key|credential)/i;

/** A diff entry names the key in its path: { path: 'programs.w.env.API_TOKEN', before, after }. */
function isDiffOfSecret(record: Record<string, unknown>): boolean {
  return (
    typeof record.path === 'string' &&
    ('before' in record || 'after' in record) &&
    SECRET_KEY.test(lastSegment(record.path))
  );
}

/**
 * A deep copy of a JSON value with secrets masked for readers that may not see them: passwords in
 * URLs and bearer tokens inside strings, and the whole value of keys that name a secret. Walks
 * with an explicit stack, so that no nesting depth overflows it.
 */
export function maskSecrets(value: unknown): unknown {
  const copy = (item: unknown, stack: [object, Record<string, unknown>][]): unknown => {
    if (typeof item === 'string') return redactSecrets(item);
    if (item === null || typeof item !== 'object') return item;
    const target = (Array.isArray(item) ? [] : {}) as Record<string, unknown>;
    stack.push([item, target]);
    return target;
  };
  const stack: [object, Record<string, unknown>][] = [];
  const root = copy(value, stack);
  while (stack.length > 0) {
    const [source, target] = stack.pop() as [object, Record<string, unknown>];
    const record = source as Record<string, unknown>;
    const diffOfSecret = !Array.isArray(source) && isDiffOfSecret(record);
    for (const key of Object.keys(source)) {
      const child = record[key];
      const secret =
        !Array.isArray(source) && (SECRET_KEY.test(key) || (diffOfSecret && (key === 'before' || key === 'after')));
      const masked = secret && child !== null && typeof child !== 'object' ? '***' : copy(child, stack);
      Object.defineProperty(target, key, { value: masked, writable: true, enumerable: true, configurable: true });
    }
  }
  return root;
}

function lastSegment(path: string): string {
  const match = /(?:\.([A-Za-z0-9_]+)|\["((?:[^"\\]|\\.)*)"\])$/.exec(path);
  return match?.[1] ?? match?.[2] ?? path;
}
