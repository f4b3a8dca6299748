import { ConfigRenderError } from './errors.js';

/**
 * Renders a JSON-like value as a Python literal: dicts, lists, str, int/float, True/False/None.
 * JSON's string escapes (\" \\ \n \u00e9) are all valid in a Python string literal, so strings
 * reuse JSON.stringify.
 */
export function pythonLiteral(value: unknown, where = 'value'): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigRenderError(`${where} is ${value}, which has no Python literal`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => pythonLiteral(v, `${where}[${i}]`)).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v, `${where}.${k}`)}`).join(', ')}}`;
  }
  throw new ConfigRenderError(`${where} is a ${typeof value}, which has no Python literal`);
}

const PYTHON_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);

/** True when `name` can be a module-level assignment target in Python. */
export function isPythonIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !PYTHON_KEYWORDS.has(name);
}
