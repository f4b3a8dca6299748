import type { DiffEntry } from './types.js';

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Appends a key to a readable path: `celery.task_routes["tasks.add"].queue`. */
export function joinPath(parent: string, key: string): string {
  if (PLAIN_KEY.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  return false;
}

function member(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/**
 * The leaf paths that differ between two JSON documents, each with its value before and after
 * (absent when the key did not exist). Objects are walked key by key; arrays and scalars compare
 * as whole values, as they replace each other in a merge.
 */
export function jsonDiff(before: unknown, after: unknown, path = ''): DiffEntry[] {
  if (sameJson(before, after)) return [];
  const walkBefore = isObject(before) && Object.keys(before).length > 0;
  const walkAfter = isObject(after) && Object.keys(after).length > 0;
  // An object that appears or disappears is listed leaf by leaf, like an edited one.
  if (
    (isObject(before) && isObject(after)) ||
    (walkBefore && after === undefined) ||
    (walkAfter && before === undefined)
  ) {
    const from = isObject(before) ? before : {};
    const to = isObject(after) ? after : {};
    const out: DiffEntry[] = [];
    const keys = new Set([...Object.keys(from), ...Object.keys(to)]);
    for (const key of [...keys].sort()) {
      const childPath = joinPath(path, key);
      out.push(...jsonDiff(member(from, key), member(to, key), childPath));
    }
    return out;
  }
  const entry: DiffEntry = { path: path === '' ? '.' : path };
  if (before !== undefined) entry.before = before;
  if (after !== undefined) entry.after = after;
  return [entry];
}
