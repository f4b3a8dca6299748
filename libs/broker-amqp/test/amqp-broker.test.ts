// AmqpBroker against Debian's RabbitMQ, one vhost per file: the message as Celery sends it,
// confirms, qos, ack / requeue / dead-letter by delivery tag.
import { createLogger } from '@celeriac/logger';
import { decodeTaskEnvelope, encodeTaskEnvelope } from '@celeriac/protocol';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDeliveries } from '../../../test/support/fetch-deliveries.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { AmqpBroker, amqpConnectOptions, brokerForUrl, isAmqpUrl } from '../src/index.js';

const logger = createLogger({ level: 'silent' });

describe('AmqpBroker on RabbitMQ', { timeout: 60_000 }, () => {
  let vhost: RabbitVhost;
  const brokers: AmqpBroker[] = [];
  const broker = async (o: Partial<ConstructorParameters<typeof AmqpBroker>[0]> = {}) => {
    const b = new AmqpBroker({ url: vhost.url(), logger, ...o });
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

  it('reads kombu URLs: pyamqp is amqp, the vhost is URL-decoded, empty means /', () => {
    expect(isAmqpUrl('pyamqp://h//')).toBe(true);
    expect(isAmqpUrl('redis://h/0')).toBe(false);
    expect(amqpConnectOptions('pyamqp://u:p%40ss@h:5673//', 60)).toMatchObject({
      protocol: 'amqp',
      hostname: 'h',
      port: 5673,
      username: 'u',
      password: 'p@ss',
      vhost: '/',
      heartbeat: 60,
    });
    expect(amqpConnectOptions('amqps://h/a%2Fb', 0)).toMatchObject({ protocol: 'amqps', port: 5671, vhost: 'a/b' });
    expect(amqpConnectOptions('amqp://h', 0)).toMatchObject({ vhost: '/', username: 'guest' });
  });

  it('brokerForUrl picks the transport by scheme', () => {
    const a = brokerForUrl({ url: vhost.url('pyamqp'), logger, settings: {} });
    const r = brokerForUrl({ url: 'redis://127.0.0.1:1/0', logger, settings: {} });
    expect(a).toBeInstanceOf(AmqpBroker);
    expect(r.constructor.name).toBe('RedisBroker');
  });

  it('publishes what Celery publishes: properties, headers table, body bytes, delivery_mode 2, priority', async () => {
    const b = await broker({ settings: { task_queue_max_priority: 10 } });
    const raw = encodeTaskEnvelope({
      id: 'id-1',
      task: 'tasks.add',
      args: [1, 2],
      kwargs: { k: null },
      queue: 'props',
    });
    await b.publish('props', raw, 5);
    const conn = await amqp.connect(amqpConnectOptions(vhost.url(), 0));
    try {
      const ch = await conn.createChannel();
      const m = await ch.get('props', { noAck: true });
      expect(m).not.toBe(false);
      if (m === false) return;
      expect(m.fields.exchange).toBe('props');
      expect(m.fields.routingKey).toBe('props');
      expect(m.properties).toMatchObject({
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        correlationId: 'id-1',
        deliveryMode: 2,
        priority: 5,
      });
      expect(m.properties.headers).toMatchObject({ id: 'id-1', task: 'tasks.add', retries: 0, eta: null });
      expect(m.properties.headers?.timelimit).toEqual([null, null]);
      expect(JSON.parse(m.content.toString('utf8'))).toEqual([[1, 2], { k: null }, expect.any(Object)]);
    } finally {
      await conn.close();
    }
    expect((await vhost.queueInfo('props'))?.arguments).toMatch(/x-max-priority.*10/);
  });

  it('delivers with delivery tags; ack removes, requeue gives back marked redelivered, dead-letter keeps a record', async () => {
    const b = await broker({ prefetchCount: 10 });
    await b.publishMany(
      ['a', 'b', 'c'].map((id) => ({
        queue: 'work',
        raw: encodeTaskEnvelope({ id, task: 't', args: [], kwargs: {}, queue: 'work' }),
      })),
    );
    const got = [];
    while (got.length < 3) {
      const d = await b.waitForOne(['work'], 5);
      if (d !== null) got.push(d);
    }
    const ids = got.map((d) => {
      const r = decodeTaskEnvelope(d.raw, { accept: ['json'] });
      expect(r.ok).toBe(true);
      return r.ok ? r.message.id : '';
    });
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(await vhost.queueCounts('work')).toEqual({ ready: 0, unacked: 3 });
    await b.ack([got[0]!.deliveryTag, 'not-a-tag']);
    expect(await b.requeue([got[1]!])).toBe(1);
    await b.deadLetter(got[2]!, 'bad_body: test');
    const again = await b.waitForOne(['work'], 5);
    expect(again).not.toBeNull();
    const decoded = decodeTaskEnvelope(again!.raw, { accept: ['json'] });
    expect(decoded.ok && decoded.message.id).toBe('b');
    expect(decoded.ok && decoded.message.redelivered).toBe(true);
    await b.ack([again!.deliveryTag]);
    const conn = await amqp.connect(amqpConnectOptions(vhost.url(), 0));
    try {
      const ch = await conn.createChannel();
      const m = await ch.get('celeriac.dead-letter', { noAck: true });
      expect(m).not.toBe(false);
      if (m !== false)
        expect(JSON.parse(m.content.toString())).toMatchObject({
          reason: 'bad_body: test',
          task_id: 'c',
          queue: 'work',
        });
    } finally {
      await conn.close();
    }
    expect(await vhost.queueCounts('work')).toEqual({ ready: 0, unacked: 0 });
  });

  it('raises the qos with the demand: held messages do not take the window', async () => {
    const b = await broker({ prefetchCount: 1 });
    await b.publishMany(
      Array.from({ length: 5 }, (_, i) => ({
        queue: 'qos',
        raw: encodeTaskEnvelope({ id: `q${i}`, task: 't', args: [], kwargs: {}, queue: 'qos' }),
      })),
    );
    const first = await b.waitForOne(['qos'], 5);
    expect(first).not.toBeNull();
    // One held (say, for its eta): asking for 3 more raises the channel's count to 4.
    await b.fetchBatch(['qos'], 3);
    const more = [];
    for (let i = 0; i < 50 && more.length < 3; i++) {
      more.push(...(await b.fetchBatch(['qos'], 3 - more.length)));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(more).toHaveLength(3);
    expect(await vhost.queueCounts('qos')).toEqual({ ready: 1, unacked: 4 });
    await b.ack([first!.deliveryTag, ...more.map((d) => d.deliveryTag)]);
    const last = await b.waitForOne(['qos'], 5);
    expect(last).not.toBeNull();
    await b.ack([last!.deliveryTag]);
  });

  it('an infinite prefetch count is basic.qos 0 (no limit, multiplier 0); setPrefetchCount moves the floor', async () => {
    const b = await broker({ prefetchCount: Number.POSITIVE_INFINITY });
    const publish = (prefix: string, n: number) =>
      b.publishMany(
        Array.from({ length: n }, (_, i) => ({
          queue: 'unlimited',
          raw: encodeTaskEnvelope({ id: `${prefix}${i}`, task: 't', args: [], kwargs: {}, queue: 'unlimited' }),
        })),
      );
    await publish('u', 30);
    // One fetch of 1 starts the consumer: RabbitMQ then pushes every message, none is left ready.
    const got = [...(await b.fetchBatch(['unlimited'], 1))];
    for (let i = 0; i < 50 && (await vhost.queueCounts('unlimited'))?.ready !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await vhost.queueCounts('unlimited')).toEqual({ ready: 0, unacked: 30 });
    got.push(...(await fetchDeliveries(b, ['unlimited'], 30 - got.length)));
    await b.ack(got.map((d) => d.deliveryTag));

    // pool_shrink to a prefetch limit of 2: the next fetch sets the window to it (what RabbitMQ
    // pushed before stays delivered).
    b.setPrefetchCount(2);
    expect(await b.fetchBatch(['unlimited'], 1)).toEqual([]);
    await publish('s', 10);
    const few = await b.fetchBatch(['unlimited'], 1);
    await new Promise((r) => setTimeout(r, 300));
    const after = [...few, ...(await b.fetchBatch(['unlimited'], 1))];
    await new Promise((r) => setTimeout(r, 300));
    const counts = await vhost.queueCounts('unlimited');
    expect(counts?.unacked).toBeLessThanOrEqual(3);
    expect(counts?.ready).toBeGreaterThanOrEqual(7);
    await b.ack(after.map((d) => d.deliveryTag));
    const rest = await fetchDeliveries(b, ['unlimited'], 10 - after.length);
    await b.ack(rest.map((d) => d.deliveryTag));
  });

  it('publishes through a named exchange, and refuses what no queue takes (BROKER_UNROUTABLE)', async () => {
    const b = await broker();
    await b.declareQueues(['routed']);
    const raw = encodeTaskEnvelope({ id: 'x1', task: 't', args: [], kwargs: {}, queue: '' });
    await b.publishToExchange({ exchange: 'routed', routingKey: 'routed', entries: [{ raw }] });
    const d = await b.waitForOne(['routed'], 5);
    expect(d?.queue).toBe('routed');
    await b.ack([d!.deliveryTag]);
    const refused = await b.publishToExchange({ exchange: 'routed', routingKey: 'nobody', entries: [{ raw }] }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(refused?.code).toBe('BROKER_UNROUTABLE');
  });

  it('refuses to start against a vhost that does not exist, with the password masked', async () => {
    const b = new AmqpBroker({ url: 'amqp://guest:guest@127.0.0.1:5672/celeriac-no-such-vhost', logger });
    const error = await b.start().then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(error?.code).toBe('BROKER_UNAVAILABLE');
    expect(error?.message).not.toContain('guest:guest');
    await b.close();
  });
});
