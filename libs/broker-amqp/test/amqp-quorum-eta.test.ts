// Eta messages on quorum queues (per-consumer qos, which a raise never reaches): a window that
// fills with held eta messages is started again, so later messages still come; the held ones stay
// ackable and requeueable, and nothing is delivered twice or lost.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Delivery } from '@celeriac/broker';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import type { ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { untilQueueCounts } from '../../../test/support/queue-counts.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { etaAhead } from '../src/consumer-eta-windows.js';
import { AmqpBroker } from '../src/index.js';

const run = promisify(execFile);
const idOf = (d: Delivery) => (JSON.parse(d.raw) as { headers: { id: string } }).headers.id;
const raw = (id: string, eta?: Date) =>
  encodeTaskEnvelope({ id, task: 'tasks.add', args: [], kwargs: {}, queue: 'celery', ...(eta ? { eta } : {}) });

describe('quorum queues: eta messages do not fill the per-consumer window', { timeout: 90_000 }, () => {
  let vhost: RabbitVhost;
  const brokers: AmqpBroker[] = [];

  beforeAll(async () => {
    vhost = await RabbitVhost.create();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await vhost?.delete();
  });

  it('a window of 2 full of held eta messages still lets the normal ones through; each once', async () => {
    const log = capturingLogger();
    const b = new AmqpBroker({
      url: vhost.url(),
      logger: log.logger,
      prefetchCount: 2,
      settings: { task_default_queue_type: 'quorum' },
    });
    brokers.push(b);
    await b.start();
    await b.declareQueues(['celery']);
    expect((await vhost.queueInfo('celery'))?.arguments).toMatch(/quorum/);
    const later = new Date(Date.now() + 3_600_000);
    const etaIds = ['e1', 'e2', 'e3', 'e4', 'e5'];
    await b.publishMany(etaIds.map((id) => ({ queue: 'celery', raw: raw(id, later) })));
    await b.publishMany(['n1', 'n2', 'n3'].map((id) => ({ queue: 'celery', raw: raw(id) })));

    // The worker's loop: it asks for its free slots, held eta messages counted free (prefetch 2).
    const held: Delivery[] = [];
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    while (seen.filter((id) => id.startsWith('n')).length < 3 && Date.now() < deadline) {
      const got = await b.fetchBatch(['celery'], 2);
      for (const d of got) {
        seen.push(idOf(d));
        if (idOf(d).startsWith('e')) held.push(d);
      }
      const normal = got.filter((d) => idOf(d).startsWith('n'));
      if (normal.length > 0) await b.ack(normal.map((d) => d.deliveryTag));
      if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen.filter((id) => id.startsWith('n')).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(held.map(idOf).sort()).toEqual(etaIds);
    expect(new Set(seen).size).toBe(seen.length);
    await untilQueueCounts(vhost, 'celery', { ready: 0, unacked: 5 }, 15_000);
    const restarts = log.lines().filter((l) => l.event === 'broker.amqp_consumer_restarted');
    expect(restarts.length).toBeGreaterThanOrEqual(2);

    // The held eta messages, now outside every window: one requeued (it comes back once), the
    // others acked as their runs end.
    expect(await b.requeue([held[0] as Delivery])).toBe(1);
    await b.ack(held.slice(1).map((d) => d.deliveryTag));
    let again: Delivery[] = [];
    for (let i = 0; again.length === 0 && i < 500; i++) {
      again = await b.fetchBatch(['celery'], 2);
      if (again.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again.map(idOf)).toEqual(['e1']);
    expect(JSON.parse(again[0]?.raw as string).properties.delivery_info.redelivered).toBe(true);
    await b.ack(again.map((d) => d.deliveryTag));
    await untilQueueCounts(vhost, 'celery', { ready: 0, unacked: 0 }, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await b.fetchBatch(['celery'], 2)).toEqual([]);
    expect(b.state).toBe('connected');
  });

  it('after a connection loss the held eta messages come back parked and leave the new window too', async () => {
    const log = capturingLogger();
    const b = new AmqpBroker({
      url: vhost.url(),
      logger: log.logger,
      prefetchCount: 2,
      settings: { task_default_queue_type: 'quorum', task_default_queue: 'lossy' },
    });
    brokers.push(b);
    await b.start();
    await b.declareQueues(['lossy']);
    const later = new Date(Date.now() + 3_600_000);
    await b.publishMany(['e1', 'e2', 'e3'].map((id) => ({ queue: 'lossy', raw: raw(id, later) })));
    const held: Delivery[] = [];
    for (let i = 0; held.length < 3 && i < 500; i++) {
      const got = await b.fetchBatch(['lossy'], 2);
      held.push(...got);
      if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(held.map(idOf).sort()).toEqual(['e1', 'e2', 'e3']);
    await run('rabbitmqctl', ['close_all_connections', '--vhost', vhost.name, 'test: connection loss'], {
      timeout: 60_000,
    });
    const deadline = Date.now() + 30_000;
    while (!log.lines().some((l) => l.event === 'broker.amqp_reconnected') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(b.state).toBe('connected');
    await b.publishMany(['n1', 'n2', 'n3'].map((id) => ({ queue: 'lossy', raw: raw(id) })));
    const normal: string[] = [];
    for (let i = 0; normal.length < 3 && i < 1_000; i++) {
      const got = await b.fetchBatch(['lossy'], 2).catch(() => []);
      normal.push(...got.map(idOf));
      await b.ack(got.map((d) => d.deliveryTag));
      if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    // The eta messages came back parked (their runs are still the worker's), not handed out again.
    expect(normal.sort()).toEqual(['n1', 'n2', 'n3']);
    expect(log.lines().filter((l) => l.event === 'broker.amqp_redelivery_parked')).toHaveLength(3);
    await untilQueueCounts(vhost, 'lossy', { ready: 0, unacked: 3 }, 15_000);
    // Their runs end: the acks of the dead channel's tags settle the parked copies.
    await b.ack(held.map((d) => d.deliveryTag));
    await untilQueueCounts(vhost, 'lossy', { ready: 0, unacked: 0 }, 15_000);
    expect(b.state).toBe('connected');
  });

  it('etaAhead reads protocol 2 headers and protocol 1 bodies', () => {
    const message = (headers: Record<string, unknown> | undefined, body: unknown): ConsumeMessage =>
      ({
        content: Buffer.from(JSON.stringify(body)),
        fields: {},
        properties: { headers, contentType: 'application/json' },
      }) as unknown as ConsumeMessage;
    const now = Date.parse('2026-12-02T08:00:00Z');
    expect(etaAhead(message({ task: 't', eta: '2026-12-02T08:00:01.000000+00:00' }, []), now)).toBe(true);
    expect(etaAhead(message({ task: 't', eta: '2026-12-02T07:59:59.000000+00:00' }, []), now)).toBe(false);
    expect(etaAhead(message({ task: 't', eta: null }, []), now)).toBe(false);
    expect(etaAhead(message({ task: 't' }, { eta: '2026-12-03T00:00:00' }), now)).toBe(false);
    expect(etaAhead(message(undefined, { task: 't', id: 'x', eta: '2026-12-03T00:00:00' }), now)).toBe(true);
    expect(etaAhead(message({}, { task: 't', id: 'x', eta: null }), now)).toBe(false);
  });
});
