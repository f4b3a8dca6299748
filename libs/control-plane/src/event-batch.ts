/** Characters JSON must escape (and lone surrogates): a string without them is written as is. */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** A string as JSON text: as it is when nothing in it needs escaping (ids, task names, reprs usually). */
export function stringJson(value: string): string {
  return needsEscape(value) ? JSON.stringify(value) : `"${value}"`;
}

/** A string value as JSON, or `null`. */
export function nullableJson(value: string | null): string {
  return value === null ? 'null' : stringJson(value);
}

/**
 * The `task.multi` list being filled: the JSON text of each task event, joined once when the list
 * is taken. (Writing each event's pieces into one byte buffer instead was measured slower: a
 * native call per piece costs more than the strings it saves.)
 */
export class EventBatch {
  private events: string[] = [];

  /** Events in the list so far. */
  get count(): number {
    return this.events.length;
  }

  /** Adds one event's JSON text. */
  add(json: string): void {
    this.events.push(json);
  }

  /** The list `[...]` in base64 (what the kombu envelope carries), and an empty list from here on. */
  takeBase64(): string {
    const body = `[${this.events.join(', ')}]`;
    this.events = [];
    return Buffer.from(body, 'utf8').toString('base64');
  }
}
