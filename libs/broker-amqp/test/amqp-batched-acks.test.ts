// Batched acks: a batch of tags the worker finished goes out as one `multiple` basic.ack where
// that acks exactly those messages, and never acks one the worker still holds (acks_late stays exact).
import type { Delivery } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { decodeTaskEnvelope, encodeTaskEnvelope } from '@celeriac/protocol';
import type { ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilQueueCounts } from '../../../test/support/queue-counts.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { HeldDeliveries } from '../src/held-deliveries.js';
import { AmqpBroker } from '../src/index.js';

const logger = createLogger({ level: 'silent' });

/** A message as amqplib hands it over, delivery tag `tag` (the fields HeldDeliveries reads). */
function message(tag: number): ConsumeMessage {
  const raw = encodeTaskEnvelope({ id: `t${tag}`, task: 't', args: [], kwargs: {}, queue: 'q' });
  const envelope = JSON.parse(raw) as { body: string; headers: Record<string, unknown> };
  return {
    content: Buffer.from(envelope.body, 'base64'),
    fields: { deliveryTag: tag, redelivered: false, exchange: 'q', routingKey: 'q', consumerTag: 'c' },
    properties: {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: envelope.headers,
      correlationId: `t${tag}`,
      deliveryMode: 2,
    },
  } as unknown as ConsumeMessage;
}

describe('HeldDeliveries.forAckMany', () => {
  const held = (n: number) => {
    const h = new HeldDeliveries();
    for (let tag = 1; tag <= n; tag++) h.receive(1, 'q', message(tag));
    h.take(['q'], n);
    return h;
  };
  const tags = (...t: number[]) => t.map((n) => `1.${n}`);
  const amqpTags = (ms: ConsumeMessage[]) => ms.map((m) => m.fields.deliveryTag);

  it('acks the oldest run in one multiple ack, in whatever order the worker finished it', () => {
    const h = held(5);
    const { upTo, each } = h.forAckMany(tags(3, 1, 2));
    expect(upTo?.fields.deliveryTag).toBe(3);
    expect(each).toEqual([]);
    expect(h.handedOut).toBe(2);
  });

  it('acks one by one what lies past a message still held', () => {
    const h = held(6);
    const { upTo, each } = h.forAckMany(tags(1, 2, 4, 6));
    expect(upTo?.fields.deliveryTag).toBe(2);
    expect(amqpTags(each)).toEqual([4, 6]);
    // Then the gap closes: 3 is now the oldest, 5 is still held.
    const next = h.forAckMany(tags(3));
    expect(next.upTo?.fields.deliveryTag).toBe(3);
    expect(next.each).toEqual([]);
    expect(h.handedOut).toBe(1);
  });

  it('sends nothing for unknown or already acked tags, and a buffered message is a barrier too', () => {
    const h = new HeldDeliveries();
    for (let tag = 1; tag <= 3; tag++) h.receive(1, 'q', message(tag));
    h.take(['q'], 1);
    expect(h.forAckMany(tags(9)).upTo).toBeNull();
    const { upTo, each } = h.forAckMany(tags(1, 1));
    expect(upTo?.fields.deliveryTag).toBe(1);
    expect(each).toEqual([]);
    const again = h.forAckMany(tags(1));
    expect(again).toEqual({ upTo: null, each: [] });
  });
});

describe('batched acks on RabbitMQ', { timeout: 60_000 }, () => {
  let vhost: RabbitVhost;
  const brokers: AmqpBroker[] = [];
  const broker = async () => {
    const b = new AmqpBroker({ url: vhost.url(), logger, prefetchCount: 20 });
    brokers.push(b);
    await b.start();
    return b;
  };

  beforeAll(async () => {
    vhost = await RabbitVhost.create();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await vhost?.delete();
  });

  it('acks exactly the tags it is given: the others stay unacked and come back when the channel closes', async () => {
    const b = await broker();
    await b.publishMany(
      Array.from({ length: 8 }, (_, i) => ({
        queue: 'acks',
        raw: encodeTaskEnvelope({ id: `a${i}`, task: 't', args: [], kwargs: {}, queue: 'acks' }),
      })),
    );
    const got: Delivery[] = [];
    while (got.length < 8) {
      const d = await b.waitForOne(['acks'], 5);
      if (d !== null) got.push(d, ...(await b.fetchBatch(['acks'], 8 - got.length - 1)));
    }
    const idOf = (raw: string) => {
      const r = decodeTaskEnvelope(raw, { accept: ['json'] });
      return r.ok ? r.message.id : '';
    };
    expect(got.map((d) => idOf(d.raw))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
    // a0..a2 make one multiple ack; a4 and a6 lie past a3, still held, and go one by one.
    await b.ack([2, 0, 1, 4, 6].map((i) => got[i]!.deliveryTag));
    await untilQueueCounts(vhost, 'acks', { ready: 0, unacked: 3 }, 20_000);
    await b.ack([got[3]!.deliveryTag]);
    await untilQueueCounts(vhost, 'acks', { ready: 0, unacked: 2 }, 20_000);
    await b.close();
    await untilQueueCounts(vhost, 'acks', { ready: 2, unacked: 0 }, 20_000);
    const other = await broker();
    const back: string[] = [];
    while (back.length < 2) {
      const d = await other.waitForOne(['acks'], 5);
      if (d !== null) back.push(idOf(d.raw));
    }
    expect(back.sort()).toEqual(['a5', 'a7']);
  });
});
