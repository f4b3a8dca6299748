import { createHash } from 'node:crypto';

/** Work left while serialising: a value to write, or text (punctuation) to emit as it is. */
type Step = { value: unknown } | string;

function isSkipped(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * Keys sorted, then in the order an object built in that order lists them: array-index keys
 * ("0", "17") first in numeric order, the rest as sorted. The hashes of stored configs were made
 * this way (JSON.stringify of a re-keyed object), so it must not change.
 */
function canonicalKeys(object: object): string[] {
  const sorted = Object.keys(object).sort();
  const isIndex = (key: string) => ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
  const indices = sorted.filter(isIndex).sort((a, b) => Number(a) - Number(b));
  return indices.length === 0 ? sorted : [...indices, ...sorted.filter((key) => !isIndex(key))];
}

/**
 * JSON with object keys sorted at every depth; `undefined` members are dropped and `undefined`
 * array items become `null`, as JSON.stringify does. Written with an explicit stack, so that no
 * nesting depth can overflow the call stack.
 */
export function canonicalJson(value: unknown): string {
  if (isSkipped(value)) return JSON.stringify(value) as string;
  const out: string[] = [];
  const stack: Step[] = [{ value }];
  while (stack.length > 0) {
    const step = stack.pop() as Step;
    if (typeof step === 'string') {
      out.push(step);
      continue;
    }
    const item = step.value;
    if (isSkipped(item) || item === null || typeof item !== 'object') {
      out.push(isSkipped(item) ? 'null' : (JSON.stringify(item) ?? 'null'));
      continue;
    }
    // Pushed in reverse: the stack pops them in order.
    const parts: Step[] = [];
    if (Array.isArray(item)) {
      parts.push('[');
      for (let index = 0; index < item.length; index++) {
        if (index > 0) parts.push(',');
        parts.push({ value: item[index] });
      }
      parts.push(']');
    } else {
      parts.push('{');
      let first = true;
      for (const key of canonicalKeys(item)) {
        const member = (item as Record<string, unknown>)[key];
        if (isSkipped(member)) continue;
        parts.push(`${first ? '' : ','}${JSON.stringify(key)}:`, { value: member });
        first = false;
      }
      parts.push('}');
    }
    for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i] as Step);
  }
  return out.join('');
}

/** sha256 (hex) of the canonical JSON of `value`: equal for equal content whatever the key order. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
