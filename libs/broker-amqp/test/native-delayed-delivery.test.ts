// Celery 5.5's native delayed delivery as AmqpBroker builds it and `defer` uses it, against
// Debian's RabbitMQ (one vhost per broker set-up): the routing key of a delay, the levels and
// bindings declared at consume time, a deferred message coming back unchanged, the queue type
// setting, and what a conflicting or invalid one is told.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BrokerError, type Delivery } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../test/support/celery-poll.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { AmqpBroker, AmqpError } from '../src/index.js';
import { delayRoutingKey, deliveryBindingKey } from '../src/native-delayed-delivery.js';

const logger = createLogger({ level: 'silent' });
const run = promisify(execFile);

async function ctl(vhost: RabbitVhost, ...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', [args[0] as string, '-p', vhost.name, '-q', ...args.slice(1)], {
    timeout: 60_000,
  });
  return stdout;
}

/** Messages waiting in the 28 levels of `vhost`. */
async function inDelay(vhost: RabbitVhost): Promise<number> {
  let n = 0;
  for (const line of (await ctl(vhost, 'list_queues', 'name', 'messages')).split('\n')) {
    const [name, count] = line.trim().split(/\s+/);
    if (name?.startsWith('celery_delayed_')) n += Number(count);
  }
  return n;
}

describe('delay routing keys (kombu 5.5 calculate_routing_key)', () => {
  it('28 bits, most significant first, before the routing key; whole seconds, at least 1, at most 2^28-1', () => {
    expect(delayRoutingKey(5, 'celery')).toBe(`${'0.'.repeat(25)}1.0.1.celery`);
    expect(delayRoutingKey(14.9, 'a.b')).toBe(`${'0.'.repeat(24)}1.1.1.0.a.b`);
    expect(delayRoutingKey(0.2, 'q')).toBe(`${'0.'.repeat(27)}1.q`);
    expect(delayRoutingKey(2 ** 40, 'q')).toBe(`${'1.'.repeat(28)}q`);
    // A key that came back through the levels loses its old prefix.
    expect(delayRoutingKey(2, delayRoutingKey(7, 'celery'))).toBe(`${'0.'.repeat(26)}1.0.celery`);
    expect(deliveryBindingKey('celery')).toBe('#.celery');
    expect(deliveryBindingKey('#.x')).toBe('#.x');
  });
});

describe('AmqpBroker native delayed delivery on RabbitMQ', { timeout: 90_000 }, () => {
  const vhosts: RabbitVhost[] = [];
  const brokers: AmqpBroker[] = [];
  const vhost = async () => {
    const v = await RabbitVhost.create();
    vhosts.push(v);
    return v;
  };
  const broker = async (v: RabbitVhost, settings: Record<string, unknown>) => {
    const b = new AmqpBroker({ url: v.url(), logger, settings });
    brokers.push(b);
    await b.start();
    return b;
  };
  let shared: RabbitVhost;

  beforeAll(async () => {
    shared = await vhost();
  });

  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await Promise.all(vhosts.map((v) => v.delete()));
  });

  it('defer: published into the levels unchanged and acked; back in its queue after its delay, as a normal message', async () => {
    const b = await broker(shared, {
      task_queues: {
        dq: { exchange: 'dq', routing_key: 'dq' },
        tq: { exchange: 'tx', exchange_type: 'topic', routing_key: 'tq.*' },
      },
    });
    const started = Date.now();
    expect(await b.fetchBatch(['dq', 'tq'], 1)).toEqual([]);
    const setUpMs = Date.now() - started;
    console.log(`dq, tq bound in ${setUpMs} ms (first consume)`);
    const bindings = await ctl(shared, 'list_bindings', 'source_name', 'destination_name', 'routing_key');
    expect(bindings).toContain('celery_delayed_delivery\tdq\t#.dq');
    // A topic exchange is bound as kombu 5.5 binds it; its queue directly too.
    expect(bindings).toContain('celery_delayed_delivery\ttx\t#.tq.*');
    expect(bindings).toContain('tx\ttq\t#.tq.*');
    expect(bindings).toContain('celery_delayed_delivery\ttq\t#.tq.*');
    // The levels wait for the first defer: a worker that never defers declares no quorum queue.
    expect((await ctl(shared, 'list_queues', 'name')).match(/^celery_delayed_\d+$/gm)).toBeNull();

    const raw = encodeTaskEnvelope({ id: 'ndd-1', task: 't.later', args: [1], kwargs: { k: 'v' }, queue: 'dq' });
    await b.publish('dq', raw, 3);
    const d = await b.waitForOne(['dq'], 5);
    expect(d).not.toBeNull();
    const deferredAt = Date.now();
    const dueMs = deferredAt + 6_600;
    expect(await b.defer([{ delivery: d as Delivery, taskId: 'ndd-1', dueMs }])).toBe(1);
    // The delay is the whole seconds left when the message goes out, after the first defer has
    // declared the levels (which can take a second on a loaded machine): 6, or 5 at the least.
    const earliestDelaySec = Math.floor((dueMs - Date.now()) / 1000);
    expect((await ctl(shared, 'list_queues', 'name')).match(/^celery_delayed_\d+$/gm)).toHaveLength(28);
    // Moved once only: a second call for the same delivery (a retry) finds it settled.
    expect(await b.defer([{ delivery: d as Delivery, taskId: 'ndd-1', dueMs }])).toBe(0);
    expect(await shared.queueCounts('dq')).toEqual({ ready: 0, unacked: 0 });
    // A quorum queue's counts reach list_queues with its next metrics round.
    await pollUntil(async () => ((await inDelay(shared)) === 1 ? true : undefined), {
      what: 'one message in the levels',
      timeoutMs: 5_000,
      intervalMs: 100,
    });

    const back = await pollUntil(async () => (await b.waitForOne(['dq'], 1)) ?? undefined, {
      what: 'the delayed message back in dq',
      timeoutMs: 20_000,
      intervalMs: 10,
    });
    const cameBackAt = Date.now();
    // Whole seconds floored (6.6 s: 6, levels 2 and 1): back up to a second before its due time, never sooner.
    expect(cameBackAt).toBeGreaterThanOrEqual(dueMs - 1_000 - 50);
    expect(cameBackAt).toBeLessThan(dueMs + 5_000);
    const was = JSON.parse((d as Delivery).raw);
    const now = JSON.parse(back.raw);
    expect(now.body).toBe(was.body);
    expect(now['content-type']).toBe(was['content-type']);
    expect(now.properties.priority).toBe(3);
    expect(now.properties.correlation_id).toBe('ndd-1');
    // The routing key is the delay in 28 binary digits, highest level first (6 s: levels 2 and 1).
    const routingKey: string = now.properties.delivery_info.routing_key;
    expect(routingKey).toMatch(/^([01]\.){28}dq$/);
    const delaySec = Number.parseInt(routingKey.split('.').slice(0, 28).join(''), 2);
    expect(delaySec).toBeGreaterThanOrEqual(Math.max(5, earliestDelaySec));
    expect(delaySec).toBeLessThanOrEqual(Math.floor((dueMs - deferredAt) / 1000));
    const levels = [0, 1, 2].filter((level) => (delaySec >> level) & 1);
    // Unchanged, beside what RabbitMQ's dead-lettering adds (x-death, x-first-death-*).
    const { 'x-death': death, ...headers } = now.headers;
    expect(headers).toEqual({
      ...was.headers,
      'x-first-death-exchange': 'celery_delayed_27',
      'x-first-death-queue': 'celery_delayed_2',
      'x-first-death-reason': 'expired',
    });
    const deathQueues = (death as { queue: string }[]).map((x) => x.queue).sort();
    expect(deathQueues).toEqual(levels.map((level) => `celery_delayed_${level}`));
    await b.ack([back.deliveryTag]);
  });

  it('a quorum destination queue (per-consumer qos): deferred, acked, back once after its delay', async () => {
    const v = await vhost();
    const b = await broker(v, { task_default_queue: 'qq', task_default_queue_type: 'quorum' });
    await b.publish('qq', encodeTaskEnvelope({ id: 'ndd-q', task: 't.q', args: [], kwargs: {}, queue: 'qq' }));
    const d = await pollUntil(async () => (await b.fetchBatch(['qq'], 1))[0], {
      what: 'the message from qq',
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const dueMs = Date.now() + 3_500;
    expect(await b.defer([{ delivery: d, taskId: 'ndd-q', dueMs }])).toBe(1);
    const back = await pollUntil(async () => (await b.waitForOne(['qq'], 1)) ?? undefined, {
      what: 'the delayed message back in qq',
      timeoutMs: 20_000,
      intervalMs: 10,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(dueMs - 1_000 - 50);
    expect(JSON.parse(back.raw).headers.id).toBe('ndd-q');
    await b.ack([back.deliveryTag]);
    await pollUntil(async () => ((await v.queueCounts('qq'))?.unacked === 0 ? true : undefined), {
      what: 'qq settled',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    expect(await b.waitForOne(['qq'], 1)).toBeNull();
  });

  it('a delivery whose channel died before the defer (an orphan): delayed from its envelope, its redelivery acked; back once', async () => {
    const v = await vhost();
    const b = await broker(v, { task_default_queue: 'oq' });
    await b.publish('oq', encodeTaskEnvelope({ id: 'ndd-o', task: 't.o', args: [2], kwargs: {}, queue: 'oq' }));
    const d = (await b.waitForOne(['oq'], 5)) as Delivery;
    expect(d).not.toBeNull();
    // Listened to, not polled: the first reconnect is at once, so `reconnecting` may last a few ms.
    const generations: number[] = [];
    const unsubscribe = b.onConnectionChange((change) => {
      if (change.state === 'connected') generations.push(change.generation);
    });
    await ctl(v, 'close_all_connections', 'test: cut the channel under a held eta message');
    await pollUntil(async () => (generations.length > 0 && b.state === 'connected' ? true : undefined), {
      what: 'the broker reconnected after the loss',
      timeoutMs: 20_000,
      intervalMs: 20,
    });
    unsubscribe();
    // The redelivery is parked (the worker still answers for the old delivery): nothing handed out.
    await pollUntil(async () => ((await v.queueCounts('oq'))?.unacked === 1 ? true : undefined), {
      what: 'the redelivery held by the broker',
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    expect(await b.fetchBatch(['oq'], 1)).toEqual([]);
    const dueMs = Date.now() + 3_500;
    expect(await b.defer([{ delivery: d, taskId: 'ndd-o', dueMs }])).toBe(1);
    await pollUntil(async () => ((await v.queueCounts('oq'))?.unacked === 0 ? true : undefined), {
      what: 'the parked redelivery acked',
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const back = await pollUntil(async () => (await b.waitForOne(['oq'], 1)) ?? undefined, {
      what: 'the delayed message back in oq',
      timeoutMs: 20_000,
      intervalMs: 10,
    });
    expect(Date.now()).toBeGreaterThanOrEqual(dueMs - 1_000 - 50);
    expect(JSON.parse(back.raw).headers.id).toBe('ndd-o');
    await b.ack([back.deliveryTag]);
    expect(await b.waitForOne(['oq'], 2)).toBeNull();
  });

  it('broker_native_delayed_delivery_queue_type classic: classic levels without at-least-once; a quorum broker on them is told why its defer fails, and keeps the message', async () => {
    const v = await vhost();
    const deferOne = async (b: AmqpBroker, queue: string, id: string) => {
      await b.publish(queue, encodeTaskEnvelope({ id, task: 't.later', args: [], kwargs: {}, queue }));
      const d = (await b.waitForOne([queue], 5)) as Delivery;
      expect(d).not.toBeNull();
      return b.defer([{ delivery: d, taskId: id, dueMs: Date.now() + 60_000 }]);
    };
    const classic = await broker(v, { task_default_queue: 'cq', broker_native_delayed_delivery_queue_type: 'classic' });
    expect(await deferOne(classic, 'cq', 'ndd-c')).toBe(1);
    const queues = await ctl(v, 'list_queues', 'name', 'type', 'arguments');
    const level5 = queues.split('\n').find((l) => l.startsWith('celery_delayed_5\t')) ?? '';
    expect(level5).toMatch(/\tclassic\t/);
    expect(level5).toContain('{"x-message-ttl",32000}');
    expect(level5).not.toContain('x-dead-letter-strategy');

    // Consuming needs no level; the defer does, and fails naming the setting.
    const quorum = await broker(v, { task_default_queue: 'cq2' });
    const failure = await deferOne(quorum, 'cq2', 'ndd-q').then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(BrokerError);
    expect((failure as BrokerError).code).toBe('BROKER_COMMAND_FAILED');
    expect((failure as Error).message).toMatch(/native delayed delivery.*broker_native_delayed_delivery_queue_type/s);
    expect(quorum.state).toBe('connected');
    // Not acked: it stays held, as without the delay.
    expect(await v.queueCounts('cq2')).toEqual({ ready: 0, unacked: 1 });
  });

  it('an unknown broker_native_delayed_delivery_queue_type is refused when the broker is made', () => {
    expect(
      () =>
        new AmqpBroker({
          url: shared.url(),
          logger,
          settings: { broker_native_delayed_delivery_queue_type: 'stream' },
        }),
    ).toThrow(AmqpError);
    expect(
      () =>
        new AmqpBroker({
          url: shared.url(),
          logger,
          settings: { broker_native_delayed_delivery_queue_type: 'stream' },
        }),
    ).toThrow(/broker_native_delayed_delivery_queue_type must be "quorum" or "classic".*"stream"/);
  });
});
