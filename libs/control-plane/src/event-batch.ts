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

/**
 * What goes between the quotes of a string's JSON text: the string itself (no new string) when
 * nothing in it needs escaping, which is the usual case for ids, task names and reprs.
 */
export function stringJsonInner(value: string): string {
  return needsEscape(value) ? JSON.stringify(value).slice(1, -1) : value;
}

/** A string value as JSON, or `null`. */
export function nullableJson(value: string | null): string {
  return value === null ? 'null' : stringJson(value);
}

/** Bytes of the scratch buffer a list is encoded in at first (it grows to the largest list seen). */
const SCRATCH_BYTES = 64 * 1024;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The `task.multi` list being filled. Each event's JSON text is kept as its pieces (constant
 * parts, field values, numbers) in one array, joined once when the list is taken: concatenating
 * an event's text first makes a string per piece, and every piece is copied again by the join.
 * The joined text is encoded through one scratch buffer kept for the next list (a fresh Buffer per
 * list is external memory the GC has to account for). (Writing each piece into a byte buffer
 * instead was measured slower: a native call per piece costs more than the strings it saves.)
 */
export class EventBatch {
  private parts: Array<string | number> = [];
  private events = 0;
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

  /** Events in the list so far. */
  get count(): number {
    return this.events;
  }

  /** Adds one event's JSON text. */
  add(json: string): void {
    this.next().push(json);
  }

  /**
   * Starts one more event and returns the array its JSON text is pushed onto, piece by piece, in
   * order (numbers are written as `String(n)`, so only finite ones).
   */
  next(): Array<string | number> {
    if (this.events++ > 0) this.parts.push(', ');
    return this.parts;
  }

  /** The list `[...]` in base64 (what the kombu envelope carries), and an empty list from here on. */
  takeBase64(): string {
    const joined = this.parts.join('');
    this.parts = [];
    this.events = 0;
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the brackets are written as bytes so the joined
    // text is not copied once more into a `[…]` string.
    const most = joined.length * 3 + 2;
    if (this.scratch.length < most) this.scratch = Buffer.allocUnsafe(most);
    const out = this.scratch;
    out[0] = OPEN_BRACKET;
    const end = 1 + out.write(joined, 1, 'utf8');
    out[end] = CLOSE_BRACKET;
    return out.toString('base64', 0, end + 1);
  }
}
