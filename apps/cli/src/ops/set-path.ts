import { CliUsageError } from './cli-errors.js';

/*
 * Path syntax of `config set`: keys separated by dots; a key holding dots (a task name) is quoted,
 * `celery.task_annotations."tasks.add".rate_limit`, or bracketed, `celery.task_annotations["tasks.add"]`
 * or `celery.task_annotations[tasks.add]` (the form validation errors print, so they can be pasted).
 * Inside double quotes, \" and \\ escape.
 */

/** `path=value`: the path's keys and the value (JSON when it parses as JSON, else the text itself). */
export interface Assignment {
  path: string[];
  value: unknown;
}

function readQuoted(text: string, start: number): { key: string; end: number } {
  let key = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\' && i + 1 < text.length) {
      key += text[++i];
    } else if (ch === '"') return { key, end: i + 1 };
    else key += ch;
  }
  throw new CliUsageError(`unclosed quote in ${JSON.stringify(text)}; close the quoted key with "`);
}

/** Reads a path up to the first unquoted `=` (or the end when `stopAtEquals` is false). */
function readPath(text: string, stopAtEquals: boolean): { path: string[]; end: number } {
  const path: string[] = [];
  let i = 0;
  let expectKey = true;
  const where = `in the path ${JSON.stringify(text)}`;
  while (i < text.length) {
    const ch = text[i] as string;
    if (stopAtEquals && ch === '=' && !expectKey) return { path, end: i };
    if (ch === '[') {
      if (path.length === 0) throw new CliUsageError(`a path cannot start with "[" ${where}`);
      let key: string;
      if (text[i + 1] === '"') {
        const quoted = readQuoted(text, i + 1);
        key = quoted.key;
        i = quoted.end;
      } else {
        const close = text.indexOf(']', i);
        if (close === -1) throw new CliUsageError(`unclosed "[" ${where}`);
        key = text.slice(i + 1, close);
        i = close;
      }
      if (text[i] !== ']') throw new CliUsageError(`expected "]" after the key ${JSON.stringify(key)} ${where}`);
      i++;
      path.push(key);
      expectKey = false;
    } else if (ch === '.') {
      if (expectKey) throw new CliUsageError(`empty key ${where}; quote keys that contain dots: a."b.c".d`);
      expectKey = true;
      i++;
    } else {
      if (!expectKey) throw new CliUsageError(`expected "." or "[" before ${JSON.stringify(text.slice(i))} ${where}`);
      if (ch === '"') {
        const quoted = readQuoted(text, i);
        path.push(quoted.key);
        i = quoted.end;
      } else {
        let end = i;
        while (end < text.length && !'.["'.includes(text[end] as string) && !(stopAtEquals && text[end] === '=')) end++;
        if (end === i)
          throw new CliUsageError(`empty key ${where}; write path=value, e.g. celery.task_serializer=msgpack`);
        path.push(text.slice(i, end));
        i = end;
      }
      expectKey = false;
    }
  }
  if (expectKey) throw new CliUsageError(path.length === 0 ? `empty path ${where}` : `the path ends with "." ${where}`);
  return { path, end: i };
}

/** Parses a path such as `celery.task_annotations."tasks.add".rate_limit` into its keys. */
export function parsePath(text: string): string[] {
  return readPath(text, false).path;
}

/** Reads a value: JSON when it parses as JSON (numbers, true, null, objects, "quoted"), else the text itself. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Parses `path=value`. */
export function parseAssignment(text: string): Assignment {
  const { path, end } = readPath(text, true);
  if (text[end] !== '=') {
    throw new CliUsageError(`${JSON.stringify(text)} is not path=value; e.g. celery.task_serializer=msgpack`);
  }
  return { path, value: parseValue(text.slice(end + 1)) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(path: readonly string[]): string {
  return path.map((key) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key))).join('.');
}

/** A copy of `doc` with the value at `path` set, creating objects on the way. */
export function setPath(
  doc: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const root = structuredClone(doc);
  let node: Record<string, unknown> = root;
  path.forEach((key, index) => {
    if (index === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (!isObject(next)) {
      throw new CliUsageError(
        `${describe(path.slice(0, index + 1))} is ${Array.isArray(next) ? 'a list' : `the value ${JSON.stringify(next)}`}, ` +
          `not an object, so ${describe(path)} cannot be set; set ${describe(path.slice(0, index + 1))} as a whole`,
      );
    }
    node = node[key] as Record<string, unknown>;
  });
  return root;
}

/** A copy of `doc` without the key at `path`; objects left empty stay. Missing keys are an error. */
export function unsetPath(doc: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  const root = structuredClone(doc);
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    node = isObject(node) ? node[key] : undefined;
  }
  const last = path[path.length - 1] as string;
  if (!isObject(node) || !Object.hasOwn(node, last))
    throw new CliUsageError(`${describe(path)} is not set in this layer`);
  delete node[last];
  return root;
}
