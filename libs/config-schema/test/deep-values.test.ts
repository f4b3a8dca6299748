import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  cloneJson,
  contentHash,
  findTooDeep,
  MAX_DOCUMENT_DEPTH,
  mergeLayers,
  validateLayer,
} from '../src/index.js';

const DEEP = 100_000;

/** [[[...]]] nested `depth` times, built without recursion. */
function deepArray(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

/** {a: {a: ... {leaf}}} nested `depth` times. */
function deepObject(depth: number, leaf: Record<string, unknown> = {}): Record<string, unknown> {
  let value: Record<string, unknown> = leaf;
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

/** The former recursive canonical form, the reference the iterative one must match byte for byte. */
function referenceCanonical(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((item) => (item === undefined ? null : sortKeys(item)));
    if (v !== null && typeof v === 'object') {
      // A null prototype keeps a '__proto__' key an own property, as JSON.parse makes it.
      const out: Record<string, unknown> = Object.create(null);
      for (const key of Object.keys(v).sort()) {
        const item = (v as Record<string, unknown>)[key];
        if (item !== undefined) out[key] = sortKeys(item);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

describe('values nested deeper than the call stack', () => {
  it('hashes them', () => {
    expect(contentHash({ celery: { x: deepArray(DEEP) } })).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash(deepObject(DEEP))).not.toBe(contentHash(deepObject(DEEP - 1)));
    expect(canonicalJson(deepArray(3))).toBe('[[[]]]');
  });

  it('merges them, and copies what it merges', () => {
    const merged = mergeLayers(deepObject(DEEP, { x: [1] }), deepObject(DEEP, { y: deepArray(DEEP) })) as Record<
      string,
      unknown
    >;
    let inner = merged;
    for (let i = 1; i < DEEP; i++) inner = inner.a as Record<string, unknown>;
    expect(Object.keys(inner).sort()).toEqual(['x', 'y']);
    const copy = cloneJson(deepArray(DEEP));
    expect(findTooDeep(copy)).toHaveLength(MAX_DOCUMENT_DEPTH);
  });

  it('finds the path of the first level beyond the limit', () => {
    expect(findTooDeep(deepObject(MAX_DOCUMENT_DEPTH))).toBeUndefined();
    expect(findTooDeep(deepObject(MAX_DOCUMENT_DEPTH + 1))).toEqual(Array(MAX_DOCUMENT_DEPTH).fill('a'));
    expect(findTooDeep({ ok: [1, 2], bad: deepArray(5) }, 3)).toEqual(['bad', 0, 0]);
    expect(findTooDeep('text', 0)).toBeUndefined();
  });

  it('refuses a layer nested too deep, with the path, instead of crashing on it', () => {
    const result = validateLayer('groups/g', { celery: { x: deepArray(DEEP) } });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]?.path).toMatch(/^celery\.x(\[0\]){62}$/);
      expect(result.issues[0]?.message).toContain(`deeper than ${MAX_DOCUMENT_DEPTH} levels`);
    }
  });

  it('refuses a "__proto__" key anywhere in a layer, with its path, instead of dropping it', () => {
    const body = JSON.parse('{"celery":{"task_routes":[{"__proto__":{"queue":"q"}}]}}');
    const result = validateLayer('groups/g', body);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toEqual([
        { path: 'celery.task_routes[0].__proto__', message: 'a key named "__proto__" cannot be stored: rename it' },
      ]);
    }
    expect(validateLayer('groups/g', { celery: { task_routes: [{ 'a.*': { queue: 'q' } }] } }).ok).toBe(true);
  });

  it('keeps the canonical form of ordinary values byte for byte (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => canonicalJson(value) === referenceCanonical(value)),
      { numRuns: 500 },
    );
    const odd = { u: undefined, f: () => 1, list: [undefined, () => 1, Number.NaN, -0, new Date(0)], n: null };
    expect(canonicalJson(odd)).toBe(referenceCanonical(odd));
    const protoKey = JSON.parse('{"__proto__":{"b":1,"a":2}}');
    expect(canonicalJson(protoKey)).toBe('{"__proto__":{"a":2,"b":1}}');
    const indexKeys = { b: 1, '10': 2, a: 3, '9': 4, '01': 5, '4294967295': 6 };
    expect(canonicalJson(indexKeys)).toBe(referenceCanonical(indexKeys));
    // biome-ignore lint/suspicious/noSparseArray: a hole must serialise as null, as JSON.stringify does
    expect(canonicalJson([1, , 3])).toBe('[1,null,3]');
  });
});
