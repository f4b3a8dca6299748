/**
 * JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII escaped as
 * `\uXXXX`, floats with a decimal point). Used for the low-rate control and worker-event messages so
 * they read byte for byte like a Python node's; task-event lists are written piece by piece with the
 * same separators and escaping (EventDispatcher, `pyJsonStringInner`).
 */

/** A number Python must read as a float (`2.0`, not `2`): mingle timestamps must be floats. */
export class PyFloat {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/** Wraps a number so it is written as a Python float. */
export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

function floatText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  return numberText(n);
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) return floatText(n);
  // Python pads a one-digit exponent to two: 1e-07, 1.5e+22.
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

/**
 * What Python's `json.dumps` writes between the quotes of a string (non-ASCII as `\uXXXX`): the
 * text is always ASCII.
 */
export function pyJsonStringInner(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code === 0x22) out += '\\"';
    else if (code === 0x5c) out += '\\\\';
    else if (code === 0x0a) out += '\\n';
    else if (code === 0x0d) out += '\\r';
    else if (code === 0x09) out += '\\t';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x0c) out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return out;
}

function stringText(s: string): string {
  return `"${pyJsonStringInner(s)}"`;
}

function write(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof PyFloat) return floatText(value.value);
  switch (typeof value) {
    case 'string':
      return stringText(value);
    case 'number':
      return numberText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(value)) return `[${value.map(write).join(', ')}]`;
  if (value instanceof Date) return stringText(value.toISOString());
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === undefined || typeof item === 'function') continue;
    parts.push(`${stringText(key)}: ${write(item)}`);
  }
  return `{${parts.join(', ')}}`;
}

/** `json.dumps(value)` as Python writes it; undefined object fields are left out as JSON.stringify does. */
export function pyJsonDumps(value: unknown): string {
  return write(value);
}
