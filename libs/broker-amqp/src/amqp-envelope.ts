import type { Options } from 'amqplib';

/** kombu's envelope JSON (what `encodeTaskEnvelope` writes and `decodeTaskEnvelope` reads). */
interface Envelope {
  body: string;
  'content-encoding'?: string;
  'content-type'?: string;
  headers?: Record<string, unknown>;
  properties?: {
    correlation_id?: string;
    reply_to?: string;
    delivery_mode?: number;
    priority?: number;
    body_encoding?: string;
    delivery_info?: { exchange?: string; routing_key?: string };
  };
}

/** One AMQP message as kombu's pyamqp transport sends it: the body bytes and the basic properties. */
export interface AmqpOutgoing {
  content: Buffer;
  options: Options.Publish;
}

/**
 * Turns kombu's envelope JSON into the AMQP message a Python Celery producer publishes: the body
 * bytes (base64-decoded), `content_type`, `content_encoding`, the protocol-v2 headers as the
 * headers table, `correlation_id`, `reply_to` (when set), `priority` and `delivery_mode` 2.
 */
export function envelopeToAmqp(raw: string, priority?: number): AmqpOutgoing {
  const e = JSON.parse(raw) as Envelope;
  const p = e.properties ?? {};
  const content =
    p.body_encoding === 'base64' ? Buffer.from(e.body, 'base64') : Buffer.from(String(e.body ?? ''), 'utf8');
  const options: Options.Publish = {
    contentType: e['content-type'] ?? 'application/json',
    contentEncoding: e['content-encoding'] ?? 'utf-8',
    headers: e.headers ?? {},
    deliveryMode: p.delivery_mode ?? 2,
  };
  if (p.correlation_id) options.correlationId = p.correlation_id;
  if (p.reply_to) options.replyTo = p.reply_to;
  const prio = priority ?? p.priority;
  if (typeof prio === 'number') options.priority = prio;
  return { content, options };
}

/** What the consumer got from RabbitMQ, in the parts `amqpToEnvelope` needs. */
export interface AmqpIncoming {
  content: Buffer;
  properties: {
    contentType?: string | undefined;
    contentEncoding?: string | undefined;
    headers?: Record<string, unknown> | undefined;
    correlationId?: string | undefined;
    replyTo?: string | undefined;
    deliveryMode?: number | undefined;
    priority?: number | undefined;
  };
  exchange: string;
  routingKey: string;
  redelivered: boolean;
}

/**
 * The envelope JSON of a message taken from RabbitMQ, so the worker decodes it as it decodes a
 * Redis entry (`delivery_tag` ours, `redelivered` from the AMQP delivery). A UTF-8 JSON body
 * (Celery's default, uncompressed) goes in as text, without `body_encoding` (the decoder reads it
 * so), sparing a base64 encode and decode per message; any other body goes in base64, as kombu's
 * Redis transport stores it.
 */
export function amqpToEnvelope(m: AmqpIncoming, deliveryTag: string): string {
  const p = m.properties;
  let headers = p.headers ?? {};
  const deliveryInfo: Record<string, unknown> = { exchange: m.exchange, routing_key: m.routingKey };
  if (m.redelivered) {
    headers = { ...headers, redelivered: true };
    deliveryInfo.redelivered = true;
  }
  const text = isUtf8Json(p.contentType, p.contentEncoding, headers);
  return JSON.stringify({
    body: m.content.toString(text ? 'utf8' : 'base64'),
    'content-encoding': p.contentEncoding ?? 'binary',
    'content-type': p.contentType ?? 'application/data',
    headers,
    properties: {
      correlation_id: p.correlationId ?? null,
      reply_to: p.replyTo ?? null,
      delivery_mode: p.deliveryMode ?? 2,
      delivery_info: deliveryInfo,
      priority: p.priority ?? 0,
      ...(text ? {} : { body_encoding: 'base64' }),
      delivery_tag: deliveryTag,
    },
  });
}

/** Whether a body is JSON text the envelope may carry as is: UTF-8 and not compressed. */
function isUtf8Json(
  contentType: string | undefined,
  contentEncoding: string | undefined,
  headers: Record<string, unknown>,
): boolean {
  return (
    contentType === 'application/json' &&
    (contentEncoding === 'utf-8' || contentEncoding === 'utf8') &&
    (headers.compression === undefined || headers.compression === null)
  );
}
