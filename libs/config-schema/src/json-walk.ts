/*
 * Walks of JSON values that use an explicit stack instead of recursion, so that a document nested
 * deeper than the call stack (one stored before the depth limit existed) cannot crash them.
 */

/** How deeply a layer document (or any request body of the center) may nest objects and arrays. */
export const MAX_DOCUMENT_DEPTH = 64;

/** One step of a path into a JSON value: an object key or an array index. */
export type JsonPathSegment = string | number;

/**
 * The path of the first object or array nested deeper than `limit` levels (the value itself is
 * level 1), or undefined when the whole value is within the limit.
 */
export function findTooDeep(value: unknown, limit = MAX_DOCUMENT_DEPTH): JsonPathSegment[] | undefined {
  const stack: { value: unknown; path: JsonPathSegment[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const entry = stack.pop() as { value: unknown; path: JsonPathSegment[] };
    if (entry.value === null || typeof entry.value !== 'object') continue;
    if (entry.path.length >= limit) return entry.path;
    if (Array.isArray(entry.value)) {
      for (let i = entry.value.length - 1; i >= 0; i--) stack.push({ value: entry.value[i], path: [...entry.path, i] });
    } else {
      const keys = Object.keys(entry.value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push({ value: (entry.value as Record<string, unknown>)[key], path: [...entry.path, key] });
      }
    }
  }
  return undefined;
}

/**
 * The path of the first `__proto__` key in a JSON value, or undefined. JSON.parse keeps such a key
 * as an own property, but every object built from it by assignment (schema parsing, merging) turns
 * it into the object's prototype, so the key would vanish without a word: layers refuse it instead.
 */
export function findProtoKey(value: unknown): JsonPathSegment[] | undefined {
  const stack: { value: unknown; path: JsonPathSegment[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const entry = stack.pop() as { value: unknown; path: JsonPathSegment[] };
    if (entry.value === null || typeof entry.value !== 'object') continue;
    const keys = Object.keys(entry.value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const path = [...entry.path, Array.isArray(entry.value) ? i : key];
      if (key === '__proto__') return path;
      stack.push({ value: (entry.value as Record<string, unknown>)[key], path });
    }
  }
  return undefined;
}

/** A deep copy of a JSON value (arrays and plain objects copied; anything else kept as it is). */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const root: unknown = Array.isArray(value) ? [] : {};
  const stack: [source: object, target: Record<string | number, unknown>][] = [
    [value as object, root as Record<string | number, unknown>],
  ];
  while (stack.length > 0) {
    const [source, target] = stack.pop() as [object, Record<string | number, unknown>];
    for (const key of Object.keys(source)) {
      const item = (source as Record<string, unknown>)[key];
      if (item !== null && typeof item === 'object') {
        const copy = Array.isArray(item) ? [] : {};
        Object.defineProperty(target, key, { value: copy, writable: true, enumerable: true, configurable: true });
        stack.push([item, copy as Record<string | number, unknown>]);
      } else {
        Object.defineProperty(target, key, { value: item, writable: true, enumerable: true, configurable: true });
      }
    }
  }
  return root as T;
}
