import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisServer } from '../../../test/support/redis-server.js';
import { brokerOptionsFromCelery, priorityStepOf, taskQueuesFromSettings } from '../src/index.js';
import { capturingLogger, rawEntry, until, useBrokerServer } from './helpers.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

/** Runs a kombu 5.2 script with `transport_options` (argv[2], JSON) and returns its stdout. */
async function kombu(
  script: string,
  url: string,
  transport: Record<string, unknown>,
  ...args: string[]
): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', script, url, JSON.stringify(transport), ...args], { timeout: 30_000 });
  return stdout.trim();
}

let server: RedisServer;
let redis: Redis;
const h = useBrokerServer((s, r) => {
  server = s;
  redis = r;
});

// kombu's producer publishing `n` messages to queue q with the given priorities (one per message).
const KOMBU_PUBLISH = `
import json, sys
from kombu import Connection, Exchange, Queue
with Connection(sys.argv[1], transport_options=json.loads(sys.argv[2])) as conn:
    ch = conn.default_channel
    q = Queue(sys.argv[3], Exchange(sys.argv[3]), routing_key=sys.argv[3])
    p = conn.Producer(ch)
    for i, pri in enumerate(json.loads(sys.argv[4])):
        p.publish({'i': i}, exchange='', routing_key=sys.argv[3], declare=[q], priority=pri, serializer='json')
`;

// kombu's consumer side: basic_get until empty, printing the delivery tags in the order it got them.
const KOMBU_DRAIN = `
import json, sys
from kombu import Connection
with Connection(sys.argv[1], transport_options=json.loads(sys.argv[2])) as conn:
    ch = conn.default_channel
    out = []
    while True:
        m = ch.basic_get(sys.argv[3], no_ack=True)
        if m is None:
            break
        out.append(m.properties['delivery_tag'])
    print(json.dumps(out))
`;

function bodyIndex(raw: string): number {
  return (JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString()) as { i: number }).i;
}

const PRIORITIES = [9, 0, 5, 3, 2, 8, 1];

describe('broker_transport_options shared with kombu', () => {
  it('priority_steps and sep name the same lists as kombu, and priorities are served in the same order', async () => {
    const transport = { priority_steps: [0, 2, 4, 6, 8], sep: ':' };
    await kombu(KOMBU_PUBLISH, server.url(0), transport, 'pq', JSON.stringify(PRIORITIES));
    const theirKeys = (await redis.keys('*')).sort();
    const theirBinding = await redis.smembers('_kombu.binding.pq');
    expect(theirKeys).toEqual(['_kombu.binding.pq', 'pq', 'pq:2', 'pq:4', 'pq:8']);

    const broker = await h.broker(brokerOptionsFromCelery({ broker_transport_options: transport }));
    const got = await broker.fetchBatch(['pq'], 20);
    // kombu's consumer order: lowest step first, FIFO inside a step: 0,1 | 3,2 | 5 | 9,8.
    expect(got.map((d) => PRIORITIES[bodyIndex(d.raw)])).toEqual([0, 1, 3, 2, 5, 9, 8]);
    await broker.ack(got.map((d) => d.deliveryTag));

    await redis.flushall();
    for (const [i, p] of PRIORITIES.entries())
      await broker.publish('pq', rawEntry(`t${i}`, { queue: 'pq', priority: p }), p);
    expect((await redis.keys('*')).sort()).toEqual(theirKeys);
    expect(await redis.smembers('_kombu.binding.pq')).toEqual(theirBinding);
    // kombu reads what we wrote in its own order (basic_get walks the steps).
    const order = JSON.parse(await kombu(KOMBU_DRAIN, server.url(0), transport, 'pq')) as string[];
    expect(order).toEqual(['t1', 't6', 't3', 't4', 't2', 't0', 't5']);
  });

  it('priority steps map like kombu bisect, including a priority below the first step', async () => {
    const script = `
import json, sys
from kombu import Connection
with Connection(sys.argv[1], transport_options=json.loads(sys.argv[2])) as conn:
    ch = conn.default_channel
    print(json.dumps([ch.priority(p) for p in range(10)]))
`;
    for (const steps of [
      [0, 3, 6, 9],
      [0, 2, 4, 6, 8],
      [1, 5],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ]) {
      const theirs = JSON.parse(await kombu(script, server.url(0), { priority_steps: steps })) as number[];
      expect(
        Array.from({ length: 10 }, (_, p) => priorityStepOf(steps, p)),
        JSON.stringify(steps),
      ).toEqual(theirs);
    }
  });

  it('global_keyprefix: every key is prefixed like kombu 5.2.4, and both sides read, ack and restore each other', async () => {
    const transport = { global_keyprefix: 'pfx:', visibility_timeout: 1 };
    // kombu publishes; we take it (owner, atomic moves) and ack it.
    await kombu(KOMBU_PUBLISH, server.url(0), transport, 'celery', JSON.stringify([0, 5]));
    expect((await redis.keys('*')).sort()).toEqual(['pfx:_kombu.binding.celery', 'pfx:celery', 'pfx:celery\x06\x163']);
    const broker = await h.broker({
      ...brokerOptionsFromCelery({ broker_transport_options: transport }),
      ownerId: 'w1',
    });
    const first = await broker.waitForOne(['celery'], 1);
    const second = await broker.waitForOne(['celery'], 1);
    expect([bodyIndex(first!.raw), bodyIndex(second!.raw)]).toEqual([0, 1]);
    expect(await redis.hexists('pfx:unacked', first!.deliveryTag)).toBe(1);
    expect(await redis.hexists('pfx:celeriac.held.w1', first!.deliveryTag)).toBe(1);
    await broker.ack([first!.deliveryTag]);
    expect(await redis.hexists('pfx:unacked', first!.deliveryTag)).toBe(0);

    // k1 stays unacked past the visibility timeout: kombu's restore_visible (prefixed) puts it back.
    await broker.close();
    await new Promise((r) => setTimeout(r, 1_300));
    const restore = `
import json, sys
from kombu import Connection
with Connection(sys.argv[1], transport_options=json.loads(sys.argv[2])) as conn:
    conn.default_channel.qos.restore_visible(num=100)
`;
    await kombu(restore, server.url(0), transport);
    expect(await redis.lrange('pfx:celery', 0, -1)).toHaveLength(1);
    expect(await redis.hlen('pfx:unacked')).toBe(0);

    // We publish (and declare) with the prefix; kombu's consumer with the same prefix reads it.
    const producer = await h.broker(brokerOptionsFromCelery({ broker_transport_options: transport }));
    await producer.publish('celery', rawEntry('ours'));
    const order = JSON.parse(await kombu(KOMBU_DRAIN, server.url(0), transport, 'celery')) as string[];
    expect(order).toEqual([second!.deliveryTag, 'ours']);
    // Nothing we wrote went outside the prefix (leases, owner records, bindings included).
    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith('pfx:'))).toEqual([]);
  });

  it('global_keyprefix: our visibility restore, the delayed set and kombu BRPOP names work under the prefix', async () => {
    const options = brokerOptionsFromCelery({
      broker_transport_options: { global_keyprefix: 'app1.', visibility_timeout: 0.5 },
    });
    const broker = await h.broker(options);
    await broker.publish('q', rawEntry('a', { queue: 'q' }));
    // Without an owner id: kombu's BRPOP, whose reply names the prefixed list.
    const got = await broker.waitForOne(['q'], 1);
    expect(got).toMatchObject({ queue: 'q', deliveryTag: 'a' });
    await new Promise((r) => setTimeout(r, 700));
    expect(await broker.restoreVisibilityTimeout()).toBe(1);
    expect(await redis.lrange('app1.q', 0, -1)).toHaveLength(1);
    const [again] = await broker.fetchBatch(['q'], 1);
    expect(again).toMatchObject({ queue: 'q', deliveryTag: 'a' });
    expect(await broker.defer([{ delivery: again!, taskId: 'id-a', dueMs: Date.now() - 1 }])).toBe(1);
    expect(await redis.zcard('app1.celeriac.delayed')).toBe(1);
    expect((await broker.promoteDue()).promoted).toBe(1);
    expect(await redis.lrange('app1.q', 0, -1)).toHaveLength(1);
    expect((await redis.keys('*')).filter((k) => !k.startsWith('app1.'))).toEqual([]);
  });

  it('queue_order_strategy: priority keeps the given order, sorted goes by name, round_robin shares', async () => {
    const fill = async () => {
      await redis.flushall();
      for (const q of ['b', 'a']) for (let i = 0; i < 3; i++) await redis.lpush(q, rawEntry(`${q}${i}`, { queue: q }));
    };
    const order = async (strategy: string) => {
      await fill();
      const broker = await h.broker(
        brokerOptionsFromCelery({ broker_transport_options: { queue_order_strategy: strategy } }),
      );
      return (await broker.fetchBatch(['b', 'a'], 4)).map((d) => d.queue).join('');
    };
    expect(await order('priority')).toBe('bbba');
    expect(await order('sorted')).toBe('aaab');
    expect((await order('round_robin')).split('').sort().join('')).toBe('aabb');
  });

  it('queue_order_strategy priority: the idle wait serves the first queue first too', async () => {
    const broker = await h.broker({
      ...brokerOptionsFromCelery({ broker_transport_options: { queue_order_strategy: 'priority' } }),
      ownerId: 'w2',
    });
    for (const q of ['later', 'first'])
      for (let i = 0; i < 2; i++) await redis.lpush(q, rawEntry(`${q}${i}`, { queue: q }));
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await broker.waitForOne(['first', 'later'], 1))!.queue);
    expect(seen).toEqual(['first', 'first', 'later', 'later']);
  });

  it('reads transport options and the queue table from Celery settings, refusing bad values and logging ignored ones', async () => {
    expect(() => brokerOptionsFromCelery({ broker_transport_options: { visibility_timeout: -1 } })).toThrow(
      /visibility_timeout must be a number of seconds > 0/,
    );
    expect(() =>
      taskQueuesFromSettings({ task_queues: [{ name: 'v', exchange: 'm', exchange_type: 'headers' }] }),
    ).toThrow(/exchange_type must be direct, topic or fanout/);
    const opts = brokerOptionsFromCelery({
      broker_transport_options: { visibility_timeout: 7, fanout_prefix: false, master_name: 'm' },
      task_default_exchange: 'ex',
      task_default_exchange_type: 'topic',
      task_default_routing_key: 'rk',
    });
    expect(opts.visibilityTimeoutMs).toBe(7000);
    expect(opts.ignoredTransportOptions).toEqual(['fanout_prefix']);
    expect([...opts.taskQueues!.bindings.values()]).toEqual([
      { queue: 'celery', exchange: 'ex', exchangeType: 'topic', routingKey: 'rk' },
    ]);
    const { logger, lines } = capturingLogger();
    const broker = await h.broker({ ...opts, logger });
    await broker.declareQueues(['celery']);
    expect(await redis.smembers('_kombu.binding.ex')).toEqual(['rk\x06\x16^rk$\x06\x16celery']);
    await until(() => lines().some((l) => l.event === 'broker.transport_option_ignored'));
    expect(
      lines()
        .filter((l) => l.event === 'broker.transport_option_ignored')
        .map((l) => l.option),
    ).toEqual(['fanout_prefix']);
    await expect(h.broker(brokerOptionsFromCelery({ broker_transport_options: { sep: '' } }))).rejects.toThrow(/sep/);
    await expect(
      h.broker(brokerOptionsFromCelery({ broker_transport_options: { queue_order_strategy: 'fair' } })),
    ).rejects.toThrow(/queue_order_strategy must be one of round_robin, priority, sorted/);
  });
});
