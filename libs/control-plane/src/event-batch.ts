import { pyJsonDumps, pyJsonStringInner } from './py-json.js';

/**
 * Characters a string cannot keep in an event's JSON text as it is: what JSON must escape, and
 * non-ASCII (written `\uXXXX`, as Python's `json.dumps` writes it, so event text is always ASCII).
 */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return true;
  }
  return false;
}

/**
 * A JSON text (ASCII, as pyJsonDumps and the event writers give it) escaped to stand between the
 * quotes of a JSON string: only `"` and `\` need it, as the text has no control characters.
 */
export function escapeInString(json: string): string {
  return json.replace(/["\\]/g, '\\$&');
}

/**
 * What goes between the quotes of a string's JSON text: the string itself (no new string) when
 * nothing in it needs escaping, the usual case for ids, task names and reprs. `inString`: escaped
 * once more, for event text that stands inside a JSON string (EventBatch's `inString` lists).
 */
export function stringJsonInner(value: string, inString = false): string {
  if (!needsEscape(value)) return value;
  const inner = pyJsonStringInner(value);
  return inString ? escapeInString(inner) : inner;
}

/** A string as JSON text (ASCII). */
export function stringJson(value: string): string {
  return `"${stringJsonInner(value)}"`;
}

/** JSON text of one task-event field value, without a general serializer for the usual strings and numbers. */
export function fieldJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return stringJson(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    default:
      return value === null ? 'null' : pyJsonDumps(value);
  }
}

/**
 * The `task.multi` list being filled. Each event's JSON text is kept as its pieces (constant
 * parts, field values, numbers) in one array, joined once when the list is taken: concatenating
 * an event's text first makes a string per piece, and every piece is copied again by the join.
 * (Writing each piece into a reused byte buffer instead left a quarter of the garbage but cost
 * 1 µs per task more in bench/runtime/events-micro.mjs, and the same in a drain; see
 * bench/runtime.md, "Task events".) The array is kept from list to list, its slots past the
 * list's pieces holding `''`: a new array per list, grown piece by piece, was a third of the
 * garbage task events made. The pieces are written by the EventDispatcher, as plain JSON or, for a
 * transport that carries the list inside a JSON string (kombu's Redis envelope), already escaped
 * for it: the list then needs no second pass (base64 or escaping) to be sent.
 */
export class EventBatch {
  private readonly parts: Array<string | number> = [];
  /** Pieces of the list so far. */
  private end = 0;
  /** Slots below it may still hold pieces of the list taken before. */
  private stale = 0;
  private events = 0;

  /** Events in the list so far. */
  get count(): number {
    return this.events;
  }

  /** Adds one event's text. */
  add(text: string): void {
    this.next(text, `, ${text}`);
  }

  /**
   * Starts one more event with its first piece, `first` alone, `later` with the `, ` before it (a
   * piece less to join); `put` adds the rest of its text.
   */
  next(first: string, later: string): void {
    if (this.events++ === 0) {
      this.put('[');
      this.put(first);
    } else this.put(later);
  }

  /** The next piece of the event's text (a number is written as `String(n)`, so only finite ones). */
  put(piece: string | number): void {
    this.parts[this.end++] = piece;
  }

  /** The list's text `[...]`, in the form its events were written in, and an empty list from here on. */
  take(): string {
    if (this.events === 0) return '[]';
    this.put(']');
    const parts = this.parts;
    for (let i = this.end; i < this.stale; i++) parts[i] = '';
    const text = parts.join('');
    this.stale = this.end;
    this.end = 0;
    this.events = 0;
    return text;
  }
}
