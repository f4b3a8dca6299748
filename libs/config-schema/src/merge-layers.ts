import { cloneJson } from './json-walk.js';
import { normalizeCelerySettings } from './normalize-celery-settings.js';

/** True for `{...}` objects (not arrays, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Merges `over` onto `base`: objects merge key by key, arrays and scalars replace, `null` removes the
 * key. Iterative (an explicit stack of objects still to merge), so no nesting depth overflows it.
 */
function mergeTwo(base: unknown, over: unknown): unknown {
  if (!isPlainObject(over)) return cloneJson(over);
  const root: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  const stack: [target: Record<string, unknown>, patch: Record<string, unknown>][] = [[root, over]];
  while (stack.length > 0) {
    const [target, patch] = stack.pop() as [Record<string, unknown>, Record<string, unknown>];
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete target[key];
      else if (value === undefined) continue;
      else if (isPlainObject(value)) {
        const current = target[key];
        const child: Record<string, unknown> = isPlainObject(current) ? { ...current } : {};
        target[key] = child;
        stack.push([child, value]);
      } else target[key] = cloneJson(value);
    }
  }
  return root;
}

/** A layer with its `celery` settings renamed to lowercase names, so old and new names of one setting merge. */
function normalizeLayer(doc: unknown): unknown {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return doc;
  return { ...doc, celery: normalizeCelerySettings(doc.celery) };
}

/**
 * Deep merge of layers, earliest first (defaults, groups, node): objects merge key by key, a later
 * scalar or array replaces an earlier one, and `null` removes a key. Layers whose `celery` object uses
 * old upper-case names are normalised first. `undefined` and `null` layers are skipped; inputs are not modified.
 */
export function mergeLayers(...docs: unknown[]): unknown {
  let result: unknown = {};
  for (const doc of docs) {
    if (doc === undefined || doc === null) continue;
    result = mergeTwo(result, normalizeLayer(doc));
  }
  return result;
}
