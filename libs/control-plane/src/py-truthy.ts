/**
 * Python's `bool()` of a value decoded from a control message: what Celery's handlers test with
 * `if terminate:`. False for None, False, 0, '' and empty lists and dicts; true for anything else,
 * so `terminate=1` (Flower sends `strtobool`'s 1) and the string `'false'` both count, as in Python.
 */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value !== '';
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}
