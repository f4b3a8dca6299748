/** Celery's default `argsrepr_maxsize`/`kwargsrepr_maxsize`: longer reprs are cut and end in `...`. */
export const REPR_MAX_CHARS = 1024;

// Python's str.isprintable() is false for control, format, surrogate, private-use, unassigned
// and separator characters other than the ASCII space.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;
const NEEDS_ESCAPE = /[\\'"\x00-\x1f\x7f-\xa0\xad]|[^\x00-\x7f]/;

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

function reprString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || !NON_PRINTABLE.test(ch)) out += ch;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

function reprNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return 'inf';
  if (n === Number.NEGATIVE_INFINITY) return '-inf';
  // Shortest round-trip digits, as JSON.stringify sends the number to Python.
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Python pads the exponent to two digits: 1e-07, 1.5e+22.
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

function reprBytes(b: Uint8Array): string {
  let out = "b'";
  for (const c of b) {
    if (c === 0x27 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c >= 0x7f) out += `\\x${hex(c, 2)}`;
    else out += String.fromCharCode(c);
  }
  return `${out}'`;
}

function repr(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return reprString(value);
    case 'number':
      return reprNumber(value);
    case 'boolean':
      return value ? 'True' : 'False';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return 'None';
    case 'symbol':
      return reprString(value.description ?? '');
    case 'function':
      return `<function ${value.name || '<anonymous>'}>`;
  }
  if (value === null) return 'None';
  const obj = value as object;
  if (seen.has(obj)) return Array.isArray(obj) ? '[...]' : '{...}';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'None' : reprString(obj.toISOString());
  if (obj instanceof Uint8Array) return reprBytes(obj);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return `[${obj.map((v) => repr(v, seen)).join(', ')}]`;
    if (obj instanceof Set) {
      if (obj.size === 0) return 'set()';
      return `{${[...obj].map((v) => repr(v, seen)).join(', ')}}`;
    }
    const entries: string[] = [];
    if (obj instanceof Map) {
      for (const [k, v] of obj) entries.push(`${repr(k, seen)}: ${repr(v, seen)}`);
    } else {
      for (const k of Object.keys(obj))
        entries.push(`${reprString(k)}: ${repr((obj as Record<string, unknown>)[k], seen)}`);
    }
    return `{${entries.join(', ')}}`;
  } finally {
    seen.delete(obj);
  }
}

function truncate(s: string, maxChars: number): string {
  return s.length <= maxChars ? s : `${s.slice(0, Math.max(0, maxChars - 3))}...`;
}

/**
 * Python `repr()` of a JSON-like value (`None`, `True`, `'text'`, `[1, 2]`, `{'a': 1}`), as Celery puts
 * in `argsrepr`/`kwargsrepr`. Display only; cut to `maxChars` like Celery's saferepr.
 */
export function pyRepr(value: unknown, maxChars = REPR_MAX_CHARS): string {
  return truncate(repr(value, new Set()), maxChars);
}

/** Python `repr()` of a tuple of the given items: `(2, 3)`, `(5,)`, `()`, as `delay()` writes `argsrepr`. */
export function pyReprTuple(items: readonly unknown[], maxChars = REPR_MAX_CHARS): string {
  const seen = new Set<object>();
  let s: string;
  if (items.length === 1) s = `(${repr(items[0], seen)},)`;
  else s = `(${items.map((v) => repr(v, seen)).join(', ')})`;
  return truncate(s, maxChars);
}
