// AmqpBroker against a RabbitMQ node of this file's own (test/support/rabbitmq-node.ts), stopped
// and started under it: reconnect by itself, declare and consume again, publishes that wait, no
// ack of a dead channel's tag on the new one, and the retry policy's end (`failed`).

import type { Delivery } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitNode } from '../../../test/support/rabbitmq-node.js';
import { AmqpBroker, type AmqpBrokerOptions, type AmqpConnectionChange } from '../src/index.js';

const logger = createLogger({ level: 'silent' });

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const task = (id: string, queue = 'work') =>
  encodeTaskEnvelope({ id, task: 'tasks.add', args: [1, 2], kwargs: {}, queue });
const idOf = (d: Delivery) => (JSON.parse(d.raw) as { headers: { id: string } }).headers.id;

describe('AmqpBroker across RabbitMQ restarts', { timeout: 60_000 }, () => {
  let node: RabbitNode;
  const brokers: AmqpBroker[] = [];
  const broker = async (o: Partial<AmqpBrokerOptions> = {}) => {
    const b = new AmqpBroker({ url: node.url(), logger, prefetchCount: 2, ...o });
    brokers.push(b);
    await b.start();
    return b;
  };
  const states = (b: AmqpBroker) => {
    const seen: AmqpConnectionChange[] = [];
    b.onConnectionChange((c) => seen.push(c));
    return seen;
  };
  /** Fetches until `n` deliveries came (the consumer backs off the same way while reconnecting). */
  const fetchN = (b: AmqpBroker, n: number, queue = 'work') => {
    const got: Delivery[] = [];
    return until(`${n} deliveries`, async () => {
      got.push(...(await b.fetchBatch([queue], n - got.length).catch(() => [])));
      return got.length >= n ? got : undefined;
    });
  };

  beforeAll(async () => {
    node = await RabbitNode.start();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await node?.stop();
  });

  it('reconnects after stop_app / start_app: publishes wait, consumers resume, old tags settle their redeliveries', async () => {
    const b = await broker();
    const seen = states(b);
    await b.publishMany(['a', 'b', 'c'].map((id) => ({ queue: 'work', raw: task(id) })));
    const first = await fetchN(b, 3);
    expect(first.map(idOf).sort()).toEqual(['a', 'b', 'c']);
    await b.ack([(first.find((d) => idOf(d) === 'a') as Delivery).deliveryTag]);
    await until('a acked', async () => ((await node.queueCounts('work'))?.unacked === 2 ? true : undefined));

    await node.stopApp();
    await until('reconnecting', () => (b.state === 'reconnecting' ? true : undefined));
    // A producer during the outage: it waits for the connection instead of failing.
    const during = b.publish('work', task('during'));
    await node.startApp();
    await during;
    await until('connected again', () => (b.state === 'connected' ? true : undefined));
    expect(seen.map((c) => c.state)).toEqual(['reconnecting', 'connected']);
    expect(seen[1]?.generation).toBe(2);

    // b and c were running when the channel died: RabbitMQ redelivers them, the broker parks the
    // copies. b finishes (acked by its old tag: the parked copy is acked), c is given back.
    const b1 = first.find((d) => idOf(d) === 'b') as Delivery;
    const c1 = first.find((d) => idOf(d) === 'c') as Delivery;
    expect(b1.deliveryTag.startsWith('1.')).toBe(true);
    await until('b and c redelivered and parked', async () =>
      (await node.queueCounts('work'))?.unacked === 2 ? true : undefined,
    );
    await b.ack([b1.deliveryTag]);
    expect(await b.requeue([c1])).toBe(1);
    const next = await fetchN(b, 2);
    expect(next.map(idOf).sort()).toEqual(['c', 'during']);
    expect(next.every((d) => d.deliveryTag.startsWith('2.'))).toBe(true);
    await b.ack(next.map((d) => d.deliveryTag));
    await until('queue empty', async () => {
      const c = await node.queueCounts('work');
      return c?.ready === 0 && c.unacked === 0 ? c : undefined;
    });
    // The consume channel never closed over an unknown tag: still generation 2.
    expect(seen.length).toBe(2);
  });

  it('declares its exchanges, queues and bindings again on a node that lost them (reset)', async () => {
    const b = await broker();
    await b.publish('fresh', task('before', 'fresh'));
    expect(idOf((await fetchN(b, 1, 'fresh'))[0] as Delivery)).toBe('before');
    await node.stopApp();
    await node.ctl('reset');
    await node.startApp();
    await until('connected again', () => (b.state === 'connected' ? true : undefined));
    expect(await node.queueCounts('fresh')).toEqual({ ready: 0, unacked: 0 });
    await b.publish('fresh', task('after', 'fresh'));
    const [after] = await fetchN(b, 1, 'fresh');
    expect(idOf(after as Delivery)).toBe('after');
    await b.ack([(after as Delivery).deliveryTag]);
  });

  it('fails (state failed, BROKER_UNAVAILABLE) with retry off at once, with max retries after them', async () => {
    const off = await broker({ reconnect: { retry: false, maxRetries: null } });
    const one = await broker({ reconnect: { retry: true, maxRetries: 1 } });
    const offStates = states(off);
    const oneStates = states(one);
    await node.stopApp();
    try {
      await until('retry off failed', () => (off.state === 'failed' ? true : undefined));
      expect(offStates.map((c) => c.state)).toEqual(['failed']);
      await expect(off.publish('work', task('x'))).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      // One retry: the try at once, 2 s of kombu's sleep, the retry, then failed.
      await until('max retries failed', () => (one.state === 'failed' ? true : undefined), 15_000);
      expect(oneStates.map((c) => c.state)).toEqual(['reconnecting', 'failed']);
      expect(oneStates[1]?.error?.message).toMatch(/gave up after 1 retries \(broker_connection_max_retries = 1\)/);
    } finally {
      await node.startApp();
    }
  });
});
