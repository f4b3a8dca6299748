import type { DiffEntry } from './types.js';

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

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

/**
 * The leaf paths that differ between two JSON documents, each with its value before and after
 * (absent when the key did not exist). Objects are walked key by key; arrays and scalars compare
 * as whole values, as they replace each other in a merge.
 */
export function jsonDiff(before: unknown, after: unknown, path = ''): DiffEntry[] {
  if (sameJson(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const out: DiffEntry[] = [];
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of [...keys].sort()) {
      const childPath = joinPath(path, key);
      if (!Object.hasOwn(after, key)) out.push({ path: childPath, before: before[key] });
      else if (!Object.hasOwn(before, key)) out.push({ path: childPath, after: after[key] });
      else out.push(...jsonDiff(before[key], after[key], childPath));
    }
    return out;
  }
  const entry: DiffEntry = { path: path === '' ? '.' : path };
  if (before !== undefined) entry.before = before;
  if (after !== undefined) entry.after = after;
  return [entry];
}
