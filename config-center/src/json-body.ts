import { formatPath, type JsonPathSegment, MAX_DOCUMENT_DEPTH } from '@celeriac/config-schema';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CenterError } from './errors.js';

const MERGE_PATCH = 'application/merge-patch+json';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_SHOWN_PATH = 200;

type Done = (error: Error | null, body?: unknown) => void;

interface Frame {
  array: boolean;
  index: number;
  /** The raw span of the key whose value is being read (objects only). */
  key: [number, number] | undefined;
}

function keyText(text: string, span: [number, number]): string {
  const raw = text.slice(span[0], span[1]);
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, -1);
  }
}

/**
 * Where the JSON text first nests deeper than `limit` objects and arrays (the document itself is
 * level 1), read without parsing it: a scan for brackets outside strings, tracking the key or
 * index of each open level. Undefined when the text stays within the limit (valid JSON or not).
 */
export function findTooDeepInJson(text: string, limit = MAX_DOCUMENT_DEPTH): JsonPathSegment[] | undefined {
  const frames: Frame[] = [];
  let lastString: [number, number] | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      lastString = [start, i + 1];
    } else if (c === 0x7b || c === 0x5b) {
      if (frames.length >= limit) {
        return frames.map((frame) => (frame.array ? frame.index : frame.key ? keyText(text, frame.key) : ''));
      }
      frames.push({ array: c === 0x5b, index: 0, key: undefined });
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop();
    } else if (c === 0x3a) {
      const top = frames.at(-1);
      if (top && !top.array) top.key = lastString;
    } else if (c === 0x2c) {
      const top = frames.at(-1);
      if (top?.array) top.index++;
    }
  }
  return undefined;
}

/** "celery.x[0][0]…" cut to a readable length. */
function showPath(path: JsonPathSegment[]): string {
  const text = formatPath(path);
  return text.length > MAX_SHOWN_PATH ? `${text.slice(0, MAX_SHOWN_PATH)}…` : text;
}

/**
 * JSON bodies (`application/json` and, for PATCH, `application/merge-patch+json`) are refused with
 * 400 CENTER_DOCUMENT_TOO_DEEP when they nest deeper than 64 levels, before they are parsed: no
 * code after the parser (hashing, merging, diffing, storing) ever sees such a document.
 */
export function registerJsonBodyParsers(app: FastifyInstance): void {
  // fastify's own JSON parsers (as the center had them: "__proto__" refused everywhere, a
  // "constructor.prototype" refused in plain JSON); they report empty and malformed bodies.
  type Parser = (request: FastifyRequest, body: string, done: Done) => void;
  const guarded =
    (parse: Parser) =>
    (request: FastifyRequest, body: string | Buffer, done: Done): void => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      const tooDeep = findTooDeepInJson(text);
      if (tooDeep) {
        done(
          new CenterError(
            'CENTER_DOCUMENT_TOO_DEEP',
            `the body nests deeper than ${MAX_DOCUMENT_DEPTH} levels at ${showPath(tooDeep)}; the center accepts at most ` +
              `${MAX_DOCUMENT_DEPTH} levels of objects and lists: flatten the document`,
          ),
          undefined,
        );
        return;
      }
      parse(request, text, done);
    };
  const json = guarded(app.getDefaultJsonParser('error', 'error') as Parser);
  const mergePatch = guarded(app.getDefaultJsonParser('error', 'ignore') as Parser);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, json);
  app.addContentTypeParser(MERGE_PATCH, { parseAs: 'string' }, mergePatch);
}
