import { createRequire } from 'node:module';
import type { Packr, Unpackr } from 'msgpackr';
import { ProtocolEncodeError } from './errors.js';

/** Body serializers Celeriac speaks; pickle and yaml are never decoded. */
export type Serializer = 'json' | 'msgpack';

/** Content type of each serializer, as kombu writes it in `content-type`. */
export const CONTENT_TYPE: Record<Serializer, string> = {
  json: 'application/json',
  msgpack: 'application/x-msgpack',
};

/** `content-encoding` that kombu pairs with each serializer. */
export const CONTENT_ENCODING: Record<Serializer, string> = {
  json: 'utf-8',
  msgpack: 'binary',
};

const BY_CONTENT_TYPE: Record<string, Serializer> = {
  'application/json': 'json',
  'application/x-msgpack': 'msgpack',
  // kombu registers msgpack under this alias too.
  'application/msgpack': 'msgpack',
};

/** The serializer for a content type, or undefined when Celeriac cannot decode it. */
export function serializerForContentType(ct: string): Serializer | undefined {
  return BY_CONTENT_TYPE[ct];
}

const NAME_TO_CONTENT_TYPE: Record<string, string> = {
  json: 'application/json',
  msgpack: 'application/x-msgpack',
  yaml: 'application/x-yaml',
  pickle: 'application/x-python-serialize',
};

const acceptCache = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * The set of content types an `accept_content` list allows. Entries may be serializer names
 * (`json`) or content types (`application/json`), as in Celery. Cached per array instance.
 */
export function acceptedContentTypes(accept: readonly string[]): ReadonlySet<string> {
  let set = acceptCache.get(accept);
  if (set === undefined) {
    const s = new Set<string>();
    for (const entry of accept) {
      const ct = NAME_TO_CONTENT_TYPE[entry] ?? entry;
      s.add(ct);
      if (ct === 'application/x-msgpack') s.add('application/msgpack');
    }
    set = s;
    acceptCache.set(accept, set);
  }
  return set;
}

let packr: Packr | undefined;
let unpackr: Unpackr | undefined;

// msgpackr is loaded on first use: most apps speak JSON only, and loading it costs start-up time and memory.
function msgpack(): { packr: Packr; unpackr: Unpackr } {
  if (packr === undefined || unpackr === undefined) {
    const lib = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr');
    // useRecords:false keeps plain msgpack maps (msgpackr's record extension is unreadable by Python).
    packr = new lib.Packr({ useRecords: false, encodeUndefinedAsNil: true, variableMapSize: true });
    unpackr = new lib.Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  }
  return { packr, unpackr };
}

/** Serializes a value into the bytes of a message body. */
export function serialize(value: unknown, serializer: Serializer): Buffer {
  if (serializer === 'json') {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new ProtocolEncodeError(`the value cannot be serialized as JSON: ${(err as Error).message}`);
    }
    if (text === undefined)
      throw new ProtocolEncodeError('the value cannot be serialized as JSON (undefined or a function)');
    return Buffer.from(text, 'utf8');
  }
  try {
    return msgpack().packr.pack(value);
  } catch (err) {
    throw new ProtocolEncodeError(`the value cannot be serialized as msgpack: ${(err as Error).message}`);
  }
}

/** Deserializes body bytes; throws on malformed input (callers on the hot path catch). */
export function deserialize(bytes: Buffer, serializer: Serializer): unknown {
  if (serializer === 'json') return JSON.parse(bytes.toString('utf8'));
  return msgpack().unpackr.unpack(bytes);
}
