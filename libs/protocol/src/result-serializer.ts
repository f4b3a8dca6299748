import { ProtocolEncodeError, ResultDecodeError, SerializerUnsupportedError } from './errors.js';
import { decodeResultDocument, encodeResult, type ResultDocument, toResultDocument } from './result-document.js';
import { acceptedContentTypes, CONTENT_TYPE, deserialize, type Serializer, serialize } from './serializers.js';

/** The serializers a result can be stored in (Celery's `result_serializer`); pickle and yaml never. */
export const RESULT_SERIALIZERS: readonly Serializer[] = ['json', 'msgpack'];

/**
 * The serializer a `result_serializer` (or `task_serializer`, named by `setting`) value names:
 * `json` (also when unset, Celery's default) or `msgpack`. Anything else (pickle, yaml, a content
 * type, a typo) throws `SerializerUnsupportedError`: it is refused, never silently replaced by JSON.
 */
export function resultSerializerOf(value: unknown, setting = 'result_serializer'): Serializer {
  if (value === undefined || value === null || value === 'json') return 'json';
  if (value === 'msgpack') return 'msgpack';
  throw new SerializerUnsupportedError(setting, value);
}

/**
 * The stored (and published) form of a result document, as Celery's Redis backend writes it:
 * `json` is the JSON text of `encodeResult`, `msgpack` the bytes of `msgpack.packb(meta,
 * use_bin_type=True)` (a map in the document's key order). No content type is stored beside it.
 */
export function encodeResultDocument(doc: ResultDocument, serializer: Serializer): string | Buffer {
  if (serializer === 'json') return encodeResult(doc);
  try {
    return serialize(doc, 'msgpack');
  } catch (err) {
    throw new ProtocolEncodeError(
      `result of task ${doc.task_id} cannot be stored as msgpack: ${(err as Error).message}`,
    );
  }
}

/**
 * Which serializer wrote a stored result: a JSON document starts with `{` (after optional
 * whitespace), a msgpack one with a map header (0x80-0x8f, 0xde, 0xdf). The two never overlap,
 * so a reader needs no content type. Undefined when it is neither (not a result document).
 */
export function sniffResultSerializer(raw: Uint8Array): Serializer | undefined {
  const first = raw[0];
  if (first === undefined) return undefined;
  if ((first >= 0x80 && first <= 0x8f) || first === 0xde || first === 0xdf) return 'msgpack';
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === 0x7b) return 'json';
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return undefined;
  }
  return undefined;
}

/** Whether an `accept_content`-like list (names or content types) allows a serializer. */
export function serializerAccepted(serializer: Serializer, accept: readonly string[]): boolean {
  return acceptedContentTypes(accept).has(CONTENT_TYPE[serializer]);
}

/**
 * Decodes stored result bytes written by `serializer` (see `sniffResultSerializer`). Throws
 * `ResultDecodeError` when they are not a result document.
 */
export function decodeResultBytes(raw: Buffer, serializer: Serializer, taskId?: string): ResultDocument {
  if (serializer === 'json') return decodeResultDocument(raw.toString('utf8'), taskId);
  let value: unknown;
  try {
    value = deserialize(raw, 'msgpack');
  } catch {
    throw new ResultDecodeError(`stored result${taskId ? ` of task ${taskId}` : ''} is not valid msgpack`);
  }
  return toResultDocument(value, 'a msgpack map', taskId);
}
