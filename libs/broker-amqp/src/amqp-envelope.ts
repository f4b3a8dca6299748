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
 * Redis entry (body base64, `delivery_tag` ours, `redelivered` from the AMQP delivery).
 */
export function amqpToEnvelope(m: AmqpIncoming, deliveryTag: string): string {
  const headers = { ...(m.properties.headers ?? {}) };
  const deliveryInfo: Record<string, unknown> = { exchange: m.exchange, routing_key: m.routingKey };
  if (m.redelivered) {
    headers.redelivered = true;
    deliveryInfo.redelivered = true;
  }
  return JSON.stringify({
    body: m.content.toString('base64'),
    'content-encoding': m.properties.contentEncoding ?? 'binary',
    'content-type': m.properties.contentType ?? 'application/data',
    headers,
    properties: {
      correlation_id: m.properties.correlationId ?? null,
      reply_to: m.properties.replyTo ?? null,
      delivery_mode: m.properties.deliveryMode ?? 2,
      delivery_info: deliveryInfo,
      priority: m.properties.priority ?? 0,
      body_encoding: 'base64',
      delivery_tag: deliveryTag,
    },
  });
}
