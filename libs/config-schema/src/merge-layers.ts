import { normalizeCelerySettings } from './normalize-celery-settings.js';

/** True for `{...}` objects (not arrays, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function clone(value: unknown): unknown {
  return value === undefined ? undefined : structuredClone(value);
}

/** Merges `over` onto `base`: objects merge key by key, arrays and scalars replace, `null` removes the key. */
function mergeTwo(base: unknown, over: unknown): unknown {
  if (!isPlainObject(over)) return clone(over);
  const result: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete result[key];
    else if (value !== undefined) result[key] = mergeTwo(result[key], value);
  }
  return result;
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
