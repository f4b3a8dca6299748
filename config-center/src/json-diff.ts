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

/** Deep equality of two JSON values, with an explicit stack (no nesting depth overflows it). */
function sameJson(left: unknown, right: unknown): boolean {
  const stack: [unknown, unknown][] = [[left, right]];
  while (stack.length > 0) {
    const [a, b] = stack.pop() as [unknown, unknown];
    if (a === b) continue;
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) stack.push([a[i], b[i]]);
    } else if (isObject(a) && isObject(b)) {
      const keys = Object.keys(a);
      if (keys.length !== Object.keys(b).length) return false;
      for (const key of keys) {
        if (!Object.hasOwn(b, key)) return false;
        stack.push([a[key], b[key]]);
      }
    } else return false;
  }
  return true;
}

function member(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Whether a diff lists the members of this pair one by one rather than the pair as a whole. */
function walked(before: unknown, after: unknown): boolean {
  if (isObject(before) && isObject(after)) return true;
  // An object that appears or disappears is listed leaf by leaf, like an edited one.
  if (after === undefined && isObject(before)) return Object.keys(before).length > 0;
  if (before === undefined && isObject(after)) return Object.keys(after).length > 0;
  return false;
}

/**
 * The leaf paths that differ between two JSON documents, each with its value before and after
 * (absent when the key did not exist). Objects are walked key by key, in key order; arrays and
 * scalars compare as whole values, as they replace each other in a merge. Iterative, so that no
 * nesting depth overflows it.
 */
export function jsonDiff(before: unknown, after: unknown, path = ''): DiffEntry[] {
  const out: DiffEntry[] = [];
  const stack: [before: unknown, after: unknown, path: string][] = [[before, after, path]];
  while (stack.length > 0) {
    const [from, to, at] = stack.pop() as [unknown, unknown, string];
    if (walked(from, to)) {
      const a = isObject(from) ? from : {};
      const b = isObject(to) ? to : {};
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      // Pushed in reverse so that they are popped, and listed, in key order.
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push([member(a, key), member(b, key), joinPath(at, key)]);
      }
      continue;
    }
    if (sameJson(from, to)) continue;
    const entry: DiffEntry = { path: at === '' ? '.' : at };
    if (from !== undefined) entry.before = from;
    if (to !== undefined) entry.after = to;
    out.push(entry);
  }
  return out;
}
