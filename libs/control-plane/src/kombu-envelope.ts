import { CONTENT_ENCODING, CONTENT_TYPE, deserialize, type Serializer, serialize, uuid4 } from '@celeriac/protocol';
import { pyJsonDumps } from './py-json.js';

/** How a kombu message travels on Redis: a JSON text with a base64 body (PROTOCOL.md §2). */
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
 * as bytes from a template made once: what task-event batches are PUBLISHed as. Only the body
 * (base64) and the delivery tag (a fresh uuid4) change per message, and large bodies go to the
 * socket as bytes instead of being measured and UTF-8-encoded again as a string (a string envelope
 * was measured 1 µs per task dearer through ioredis, bench/runtime/events-micro.mjs --redis).
 */
export class EnvelopeTemplate {
  private readonly head: Buffer;
  private readonly tail: Buffer;

  constructor(options: Omit<EncodeEnvelopeOptions, 'bodyJson' | 'serializer'>) {
    const rest = envelopeRest('json', options, '');
    const at = rest.lastIndexOf('""');
    this.head = Buffer.from(`", ${rest.slice(0, at + 1)}`, 'utf8');
    this.tail = Buffer.from(rest.slice(at + 1), 'utf8');
  }

  /** The envelope of `bodyJson` (JSON text), with a new delivery tag. */
  encode(bodyJson: string): Buffer {
    return this.encodeBase64(Buffer.from(bodyJson, 'utf8').toString('base64'));
  }

  /** The envelope of a body given as its base64 text, with a new delivery tag. */
  encodeBase64(body: string): Buffer {
    const tag = uuid4();
    const out = Buffer.allocUnsafe(BODY_OPEN.length + body.length + this.head.length + tag.length + this.tail.length);
    let at = out.write(BODY_OPEN, 0, 'latin1');
    at += out.write(body, at, 'latin1');
    at += this.head.copy(out, at);
    at += out.write(tag, at, 'latin1');
    this.tail.copy(out, at);
    return out;
  }
}

const BODY_OPEN = '{"body": "';

/** Everything of the envelope after its body, without the opening brace. */
function envelopeRest(
  serializer: Serializer,
  options: Omit<EncodeEnvelopeOptions, 'bodyJson'>,
  deliveryTag = uuid4(),
): string {
  const rest = pyJsonDumps({
    'content-encoding': CONTENT_ENCODING[serializer],
    'content-type': CONTENT_TYPE[serializer],
    headers: options.headers,
    properties: {
      delivery_mode: options.deliveryMode,
      delivery_info: { exchange: options.exchange, routing_key: options.routingKey },
      priority: 0,
      body_encoding: 'base64',
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
