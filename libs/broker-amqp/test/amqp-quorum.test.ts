// Celery 5.5's quorum queues on Debian's RabbitMQ (a vhost of this file): declared with
// x-queue-type quorum, consumed with per-consumer qos (RabbitMQ refuses global qos on them),
// beside a classic queue on the same channel; a quorum queue with a priority is refused up front.
import type { Delivery } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { AmqpBroker, brokerForUrl } from '../src/index.js';

const logger = createLogger({ level: 'silent' });
const raw = (id: string, queue: string) => encodeTaskEnvelope({ id, task: 'tasks.add', args: [], kwargs: {}, queue });

describe('quorum queues', { timeout: 60_000 }, () => {
  let vhost: RabbitVhost;
  const brokers: AmqpBroker[] = [];

  beforeAll(async () => {
    vhost = await RabbitVhost.create();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await vhost?.delete();
  });

  it('declares the default queue quorum, and consumes it beside a classic queue', async () => {
    const b = new AmqpBroker({
      url: vhost.url(),
      logger,
      prefetchCount: 2,
      settings: { task_default_queue_type: 'quorum', task_queues: { celery: {}, plain: {} } },
    });
    brokers.push(b);
    await b.start();
    await b.declareQueues(['celery', 'plain']);
    expect((await vhost.queueInfo('celery'))?.arguments).toMatch(/x-queue-type.*quorum/);
    expect((await vhost.queueInfo('plain'))?.arguments).not.toMatch(/quorum/);
    await b.publishMany([
      ...['q1', 'q2', 'q3'].map((id) => ({ queue: 'celery', raw: raw(id, 'celery') })),
      { queue: 'plain', raw: raw('p1', 'plain') },
    ]);
    const got: Delivery[] = [];
    for (let i = 0; got.length < 4 && i < 200; i++) {
      got.push(...(await b.fetchBatch(['celery', 'plain'], 4 - got.length)));
      if (got.length < 4) await new Promise((r) => setTimeout(r, 50));
      // Settle what came so the per-consumer window (2) lets the rest through.
      await b.ack(got.map((d) => d.deliveryTag));
    }
    expect(got.map((d) => (JSON.parse(d.raw) as { headers: { id: string } }).headers.id).sort()).toEqual([
      'p1',
      'q1',
      'q2',
      'q3',
    ]);
    expect(b.state).toBe('connected');
  });

  it('refuses a quorum queue with a priority before connecting (AMQP_QUEUE_CONFLICT)', () => {
    expect(() =>
      brokerForUrl({
        url: vhost.url(),
        logger,
        settings: { task_default_queue_type: 'quorum', task_queue_max_priority: 10 },
      }),
    ).toThrow(expect.objectContaining({ code: 'AMQP_QUEUE_CONFLICT' }));
  });
});
