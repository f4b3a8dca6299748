import { CONTENT_ENCODING, CONTENT_TYPE, deserialize, type Serializer, serialize, uuid4 } from '@celeriac/protocol';
import { pyJsonDumps } from './py-json.js';

/** How a kombu message travels on Redis: a JSON text with a base64 body (PROTOCOL.md §2), or without `body_encoding` the body text itself. */
export interface KombuEnvelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: {
    delivery_mode?: number;
    delivery_info?: { exchange?: string; routing_key?: string };
    priority?: number;
    body_encoding?: string;
    delivery_tag?: string;
    [key: string]: unknown;
  };
}

export interface EncodeEnvelopeOptions {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  /** 1 (transient) for replies and events, 2 for requests, as kombu sends them. */
  deliveryMode: 1 | 2;
  serializer?: Serializer;
  /** The body's JSON text, when the caller has it already (task-event batches). */
  bodyJson?: string;
}

/** Serializes `payload` into a kombu envelope, Python-formatted, ready to PUBLISH or LPUSH. */
export function encodeEnvelope(payload: unknown, options: EncodeEnvelopeOptions): string {
  const serializer = options.serializer ?? 'json';
  const bytes =
    serializer === 'json' && options.bodyJson !== undefined
      ? Buffer.from(options.bodyJson, 'utf8')
      : serializeBody(payload, serializer);
  return encodeEnvelopeOfBody(bytes, serializer, options);
}

/** The kombu envelope of an already serialized body. */
export function encodeEnvelopeOfBody(
  bytes: Buffer,
  serializer: Serializer,
  options: Omit<EncodeEnvelopeOptions, 'bodyJson' | 'serializer'>,
): string {
  // The base64 body needs no escaping: splice it in rather than scanning it character by character.
  return `{"body": "${bytes.toString('base64')}", ${envelopeRest(serializer, options)}`;
}

/**
 * The envelope of `encodeEnvelope` for JSON bodies of one exchange, routing key and headers, built
 * from pieces made once: what events are PUBLISHed as. Only the body and the delivery tag (a fresh
 * uuid4) change per message. A body comes in base64 (`body_encoding: "base64"`, as kombu writes
 * every body: worker events read byte for byte like a Python worker's), or as JSON text already
 * escaped for a JSON string, spliced in as it is with no `body_encoding` (kombu's virtual
 * transport then takes the text as the body): task-event lists, sparing their base64 step and a
 * third of their bytes.
 */
export class EnvelopeTemplate {
  private readonly base64Rest: Buffer;
  private readonly textRest: string;
  private readonly tail: string;

  constructor(options: Omit<EncodeEnvelopeOptions, 'bodyJson' | 'serializer'>) {
    const base64Rest = envelopeRest('json', options, '', 'base64');
    const textRest = envelopeRest('json', options, '', null);
    const at = textRest.lastIndexOf('""');
    this.base64Rest = Buffer.from(`", ${base64Rest.slice(0, base64Rest.lastIndexOf('""') + 1)}`, 'utf8');
    this.textRest = `", ${textRest.slice(0, at + 1)}`;
    this.tail = textRest.slice(at + 1);
  }

  /** The envelope of `bodyJson` (JSON text) in base64, with a new delivery tag. */
  encode(bodyJson: string): Buffer {
    return this.encodeBase64(Buffer.from(bodyJson, 'utf8').toString('base64'));
  }

  /** The envelope of a body given as its base64 text, with a new delivery tag. */
  encodeBase64(body: string): Buffer {
    const tag = uuid4();
    const out = Buffer.allocUnsafe(
      BODY_OPEN.length + body.length + this.base64Rest.length + tag.length + this.tail.length,
    );
    let at = out.write(BODY_OPEN, 0, 'latin1');
    at += out.write(body, at, 'latin1');
    at += this.base64Rest.copy(out, at);
    at += out.write(tag, at, 'latin1');
    out.write(this.tail, at, 'latin1');
    return out;
  }

  /**
   * The envelope of a body given as JSON text escaped for a JSON string (`escapeInString`), without
   * `body_encoding`, with a new delivery tag. Event text is ASCII (non-ASCII is written `\uXXXX`),
   * so its bytes are as many as its characters; bytes rather than a string, as ioredis would
   * measure and encode a string again (0.25 µs per task dearer, bench/runtime/events-micro.mjs --redis;
   * a `latin1` write of the same text costs four times a `utf8` one).
   */
  encodeInString(body: string): Buffer {
    const tag = uuid4();
    const size = BODY_OPEN.length + body.length + this.textRest.length + tag.length + this.tail.length;
    const out = Buffer.allocUnsafe(size);
    let at = out.write(BODY_OPEN, 0, 'latin1');
    const written = out.write(body, at, 'utf8');
    // Text that is not ASCII after all (a caller's own JSON) did not fit: encoded in full instead.
    if (written !== body.length) return Buffer.from(`${BODY_OPEN}${body}${this.textRest}${tag}${this.tail}`, 'utf8');
    at += written;
    at += out.write(this.textRest, at, 'latin1');
    at += out.write(tag, at, 'latin1');
    out.write(this.tail, at, 'latin1');
    return out;
  }
}

const BODY_OPEN = '{"body": "';

/** Everything of the envelope after its body, without the opening brace. */
function envelopeRest(
  serializer: Serializer,
  options: Omit<EncodeEnvelopeOptions, 'bodyJson'>,
  deliveryTag = uuid4(),
  bodyEncoding: 'base64' | null = 'base64',
): string {
  const rest = pyJsonDumps({
    'content-encoding': CONTENT_ENCODING[serializer],
    'content-type': CONTENT_TYPE[serializer],
    headers: options.headers,
    properties: {
      delivery_mode: options.deliveryMode,
      delivery_info: { exchange: options.exchange, routing_key: options.routingKey },
      priority: 0,
      ...(bodyEncoding === null ? {} : { body_encoding: bodyEncoding }),
      delivery_tag: deliveryTag,
    },
  });
  return rest.slice(1);
}

/** A decoded envelope: its headers, the serializer it used, and the deserialized body. */
export interface DecodedEnvelope {
  headers: Record<string, unknown>;
  serializer: Serializer;
  body: unknown;
}

/** Why an envelope could not be decoded. */
export type EnvelopeDecodeFailure = 'not_json' | 'not_envelope' | 'content_type' | 'body';

/** What `decodeEnvelope` and `decodeBody` return; never a throw. */
export type EnvelopeDecodeResult =
  | { ok: true; value: DecodedEnvelope }
  | { ok: false; reason: EnvelopeDecodeFailure; detail: string };

/** The serializer of a kombu content type; undefined for the ones the control plane does not read. */
function serializerOf(contentType: string): Serializer | undefined {
  if (contentType === 'application/json') return 'json';
  if (contentType === 'application/x-msgpack' || contentType === 'application/msgpack') return 'msgpack';
  return undefined;
}

/** The serialized body of a pidbox message or event (Python-formatted JSON, or msgpack). */
export function serializeBody(payload: unknown, serializer: Serializer = 'json'): Buffer {
  return serializer === 'json'
    ? Buffer.from(pyJsonDumps(payload), 'utf8')
    : // A JSON round trip turns PyFloat wrappers into plain numbers for msgpack.
      serialize(JSON.parse(JSON.stringify(payload ?? null)), serializer);
}

/** Decodes a message body given with its content type (how AMQP carries it); never throws. */
export function decodeBody(
  bytes: Buffer,
  contentType: string | undefined,
  headers: Record<string, unknown>,
): EnvelopeDecodeResult {
  const type = contentType ?? 'application/json';
  const serializer = serializerOf(type);
  if (serializer === undefined) return { ok: false, reason: 'content_type', detail: `content type ${type}` };
  try {
    return { ok: true, value: { headers, serializer, body: deserialize(bytes, serializer) } };
  } catch (err) {
    return { ok: false, reason: 'body', detail: (err as Error).message };
  }
}

/** A kombu envelope taken apart: headers, content type and the body bytes (base64 undone); never throws. */
export function parseEnvelope(
  raw: string,
):
  | { ok: true; value: { headers: Record<string, unknown>; contentType: string; body: Buffer } }
  | { ok: false; reason: EnvelopeDecodeFailure; detail: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { ok: false, reason: 'not_json', detail: (err as Error).message };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'not_envelope', detail: 'the message is not a JSON object' };
  }
  const env = parsed as Partial<KombuEnvelope>;
  if (typeof env.body !== 'string') return { ok: false, reason: 'not_envelope', detail: 'body is not a string' };
  const headers =
    env.headers !== null && typeof env.headers === 'object' ? (env.headers as Record<string, unknown>) : {};
  const encoding = env.properties?.body_encoding;
  const body = encoding === 'base64' ? Buffer.from(env.body, 'base64') : Buffer.from(env.body, 'utf8');
  return { ok: true, value: { headers, contentType: env['content-type'] ?? 'application/json', body } };
}

/** Decodes a kombu envelope; never throws. */
export function decodeEnvelope(raw: string): EnvelopeDecodeResult {
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) return parsed;
  return decodeBody(parsed.value.body, parsed.value.contentType, parsed.value.headers);
}
