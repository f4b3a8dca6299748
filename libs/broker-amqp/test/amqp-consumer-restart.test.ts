// RabbitMQ's own semantics that the per-consumer windows of quorum queues rely on (raw amqplib,
// no Celeriac code): a cancelled consumer's unacked messages stay on the channel outside every
// window (a new consumer gets a full window beside them), can still be acked or requeued there,
// are redelivered only when requeued, and a cancel/consume cycle under a steady stream of
// publishes drops and duplicates nothing.
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilQueueCounts } from '../../../test/support/queue-counts.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';

const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RabbitMQ: cancel and consume again on a quorum queue (per-consumer qos)', { timeout: 90_000 }, () => {
  let vhost: RabbitVhost;
  let conn: ChannelModel;

  beforeAll(async () => {
    vhost = await RabbitVhost.create();
    conn = await amqp.connect(vhost.url());
  });

  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await vhost?.delete();
  });

  async function queueWith(name: string, ch: Channel, n: number): Promise<void> {
    await ch.assertQueue(name, QUORUM);
    for (let i = 0; i < n; i++) ch.sendToQueue(name, Buffer.from(`m${i}`), { persistent: true });
    await untilQueueCounts(vhost, name, { ready: n, unacked: 0 }, 15_000);
  }

  it("a new consumer gets a full window beside the cancelled one's unacked messages, which stay ackable and requeueable", async () => {
    const ch = await conn.createChannel();
    await queueWith('restart', ch, 8);
    const got: ConsumeMessage[] = [];
    await ch.prefetch(2, false);
    const first = await ch.consume('restart', (m) => m !== null && got.push(m), { consumerTag: 'first' });
    await until('2 deliveries to the first consumer', () => got.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toHaveLength(2);
    await ch.cancel(first.consumerTag);
    await ch.prefetch(2, false);
    await ch.consume('restart', (m) => m !== null && got.push(m), { consumerTag: 'second' });
    // The first consumer's 2 unacked messages take none of the second one's window.
    await until('2 more deliveries to the second consumer', () => got.length === 4);
    await untilQueueCounts(vhost, 'restart', { ready: 4, unacked: 4 }, 15_000);
    expect(got.map((m) => m.fields.consumerTag)).toEqual(['first', 'first', 'second', 'second']);
    // Ack one of the cancelled consumer's messages, requeue the other: the ack settles it, the
    // requeued one comes back (once, marked redelivered) to the live consumer.
    ch.ack(got[0] as ConsumeMessage);
    ch.nack(got[1] as ConsumeMessage, false, true);
    ch.ack(got[2] as ConsumeMessage);
    ch.ack(got[3] as ConsumeMessage);
    const seen = new Map<string, number>();
    const drain = async () => {
      for (let i = 0; i < 400; i++) {
        for (const m of got.splice(0)) {
          const body = m.content.toString();
          seen.set(body, (seen.get(body) ?? 0) + 1);
          ch.ack(m);
        }
        if (seen.size === 5) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    got.length = 0;
    await drain();
    await untilQueueCounts(vhost, 'restart', { ready: 0, unacked: 0 }, 15_000);
    // m0 acked on the cancelled consumer (not seen again), m1 redelivered once, m2..m7 once.
    expect([...seen.keys()].sort()).toEqual(['m1', 'm4', 'm5', 'm6', 'm7'].sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    await ch.close();
  });

  it('closing the channel returns the cancelled consumer’s unacked messages too', async () => {
    const ch = await conn.createChannel();
    await queueWith('returned', ch, 3);
    const got: ConsumeMessage[] = [];
    await ch.prefetch(3, false);
    const c = await ch.consume('returned', (m) => m !== null && got.push(m));
    await until('3 deliveries', () => got.length === 3);
    await ch.cancel(c.consumerTag);
    await untilQueueCounts(vhost, 'returned', { ready: 0, unacked: 3 }, 15_000);
    await ch.close();
    await untilQueueCounts(vhost, 'returned', { ready: 3, unacked: 0 }, 15_000);
  });

  it('cancel/consume cycles while messages stream in: every message is delivered exactly once', async () => {
    const n = 600;
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('stream', QUORUM);
    const ch = await conn.createChannel();
    const seen = new Map<string, number>();
    const onMessage = (m: ConsumeMessage | null) => {
      if (m === null) throw new Error('the server cancelled the consumer');
      const body = m.content.toString();
      seen.set(body, (seen.get(body) ?? 0) + 1);
      ch.ack(m);
    };
    await ch.prefetch(5, false);
    let tag = (await ch.consume('stream', onMessage, { consumerTag: 'c0' })).consumerTag;
    const publishing = (async () => {
      for (let i = 0; i < n; i++) {
        pub.sendToQueue('stream', Buffer.from(`s${i}`), { persistent: true });
        if (i % 20 === 19) await pub.waitForConfirms();
      }
      await pub.waitForConfirms();
    })();
    let cycles = 0;
    while (seen.size < n && cycles < 2_000) {
      await ch.cancel(tag);
      await ch.prefetch(5, false);
      tag = (await ch.consume('stream', onMessage, { consumerTag: `c${++cycles}` })).consumerTag;
      await new Promise((r) => setTimeout(r, 2));
    }
    await publishing;
    await until(`all ${n} messages`, () => seen.size === n, 30_000);
    expect(cycles).toBeGreaterThan(10);
    expect([...seen.values()].filter((k) => k !== 1)).toEqual([]);
    await untilQueueCounts(vhost, 'stream', { ready: 0, unacked: 0 }, 15_000);
    await ch.close();
    await pub.close();
  });
});
