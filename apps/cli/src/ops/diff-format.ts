import { canonicalJson, type DiffEntry } from '@celeriac/config-schema';

/** One changed path, as the center reports diffs. */
export type DiffLine = DiffEntry;

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** "+ path: value", "- path: value", "~ path: before → after", one line each. */
export function formatDiff(entries: readonly DiffLine[], indent = ''): string[] {
  return entries.map((entry) => {
    const hasBefore = Object.hasOwn(entry, 'before') && entry.before !== undefined;
    const hasAfter = Object.hasOwn(entry, 'after') && entry.after !== undefined;
    if (!hasBefore) return `${indent}+ ${entry.path}: ${show(entry.after)}`;
    if (!hasAfter) return `${indent}- ${entry.path}: ${show(entry.before)}`;
    return `${indent}~ ${entry.path}: ${show(entry.before)} → ${show(entry.after)}`;
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function joinPath(parent: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Leaf differences between two JSON documents (objects walked, arrays and scalars whole), sorted by key. */
export function diffDocuments(before: unknown, after: unknown, path = ''): DiffLine[] {
  if (before !== undefined && after !== undefined && canonicalJson(before) === canonicalJson(after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const child = joinPath(path, key);
      if (!Object.hasOwn(after, key)) return [{ path: child, before: before[key] }];
      if (!Object.hasOwn(before, key)) return [{ path: child, after: after[key] }];
      return diffDocuments(before[key], after[key], child);
    });
  }
  if (before === undefined && after === undefined) return [];
  return [{ path: path === '' ? '.' : path, before, after }];
}
