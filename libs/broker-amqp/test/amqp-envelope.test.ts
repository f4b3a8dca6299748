// The envelope a RabbitMQ delivery becomes: a UTF-8 JSON body as text, any other in base64, and
// either way the worker's decoder reads back the message Celery sent.
import { decodeTaskEnvelope, encodeTaskEnvelope } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { type AmqpIncoming, amqpToEnvelope, envelopeToAmqp } from '../src/amqp-envelope.js';

/** What a consumer receives for the envelope `raw` a producer published. */
function received(raw: string, redelivered = false): AmqpIncoming {
  const { content, options } = envelopeToAmqp(raw);
  return {
    content,
    properties: {
      contentType: options.contentType,
      contentEncoding: options.contentEncoding,
      headers: options.headers,
      correlationId: options.correlationId,
      deliveryMode: options.deliveryMode as number,
    },
    exchange: '',
    routingKey: 'q',
    redelivered,
  };
}

describe('amqpToEnvelope', () => {
  it('carries a UTF-8 JSON body as text (no base64), and the decoder reads it', () => {
    const raw = encodeTaskEnvelope({ id: 'e1', task: 't', args: ['héllo ✓'], kwargs: { q: '"x"' }, queue: 'q' });
    const env = JSON.parse(amqpToEnvelope(received(raw), '1.7'));
    expect(env.properties.body_encoding).toBeUndefined();
    expect(JSON.parse(env.body)[0]).toEqual(['héllo ✓']);
    const r = decodeTaskEnvelope(amqpToEnvelope(received(raw), '1.7'), { accept: ['json'] });
    expect(r.ok && [r.message.id, r.message.args, r.message.kwargs, r.message.deliveryTag]).toEqual([
      'e1',
      ['héllo ✓'],
      { q: '"x"' },
      '1.7',
    ]);
  });

  it('keeps base64 for other bodies (msgpack, compressed), and marks a redelivery without touching the headers', () => {
    const incoming = received(encodeTaskEnvelope({ id: 'e2', task: 't', args: [], kwargs: {}, queue: 'q' }), true);
    const headers = incoming.properties.headers as Record<string, unknown>;
    const compressed: AmqpIncoming = {
      ...incoming,
      properties: { ...incoming.properties, headers: { ...headers, compression: 'application/x-gzip' } },
    };
    expect(JSON.parse(amqpToEnvelope(compressed, '1.1')).properties.body_encoding).toBe('base64');
    const binary: AmqpIncoming = {
      ...incoming,
      properties: { ...incoming.properties, contentType: 'application/x-msgpack', contentEncoding: 'binary' },
    };
    expect(JSON.parse(amqpToEnvelope(binary, '1.1')).properties.body_encoding).toBe('base64');
    const env = JSON.parse(amqpToEnvelope(incoming, '1.2'));
    expect(env.headers.redelivered).toBe(true);
    expect(env.properties.delivery_info.redelivered).toBe(true);
    expect(headers.redelivered).toBeUndefined();
  });
});
