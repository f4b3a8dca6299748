import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisServer } from '../../../test/support/redis-server.js';
import {
  BrokerUnroutableError,
  matchingQueues,
  parseBindingMember,
  taskQueuesFromSettings,
  topicPattern,
} from '../src/index.js';
import { rawEntry, until, useBrokerServer } from './helpers.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

/** Runs a kombu 5.2 script (argv[1] = the broker URL) and returns its stdout. */
async function kombu(script: string, url: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', script, url, ...args], { timeout: 30_000 });
  return stdout.trim();
}

let server: RedisServer;
let redis: Redis;
const h = useBrokerServer((s, r) => {
  server = s;
  redis = r;
});

const SEP = '\x06\x16';
const KEYS = ['a.*.#', 'media.#', 'media.video', 'me-dia.v_x', '*', '#', 'x+y.*.z', 'ünï.code'];

// The same queue table for kombu and for us: a direct exchange, a topic exchange, a queue on the default exchange.
const QUEUES = {
  task_queues: [
    { name: 'video', exchange: 'media', routing_key: 'media.video' },
    { name: 'all_media', exchange: 'media_topic', exchange_type: 'topic', routing_key: 'media.#' },
    { name: 'one_word', exchange: 'media_topic', exchange_type: 'topic', routing_key: 'media.*' },
    { name: 'plain' },
  ],
};

const KOMBU_DECLARE = `
import sys
from kombu import Connection, Exchange, Queue
with Connection(sys.argv[1]) as conn:
    ch = conn.default_channel
    Queue('video', Exchange('media', 'direct'), routing_key='media.video')(ch).declare()
    Queue('all_media', Exchange('media_topic', 'topic'), routing_key='media.#')(ch).declare()
    Queue('one_word', Exchange('media_topic', 'topic'), routing_key='media.*')(ch).declare()
    Queue('plain', Exchange('celery', 'direct'), routing_key='plain')(ch).declare()
`;

async function bindingSets(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const key of (await redis.keys('_kombu.binding.*')).sort()) out[key] = (await redis.smembers(key)).sort();
  return out;
}

describe('exchange bindings as kombu writes and reads them', () => {
  it('topic patterns are byte for byte those of kombu TopicExchange.key_to_pattern', async () => {
    const script = `
import json, sys
from kombu.transport.virtual.exchange import TopicExchange
print(json.dumps([TopicExchange(None).key_to_pattern(k) for k in json.loads(sys.argv[2])]))
`;
    const theirs = JSON.parse(await kombu(script, server.url(0), JSON.stringify(KEYS))) as string[];
    expect(KEYS.map(topicPattern)).toEqual(theirs);
  });

  it('matching a routing key gives the queues kombu direct / topic / fanout lookups give', async () => {
    const table = [
      ['media.video', '', 'video'],
      ['media.#', topicPattern('media.#'), 'all_media'],
      ['media.*', topicPattern('media.*'), 'one_word'],
      ['a.*.#', topicPattern('a.*.#'), 'deep'],
      ['plain', '', 'plain'],
    ];
    const keys = ['media.video', 'media.audio.hi', 'a.b', 'a.b.c', 'a.b.c.d', 'plain', 'nothing'];
    const script = `
import json, sys
from kombu.transport.virtual.exchange import DirectExchange, TopicExchange, FanoutExchange
table = [tuple(t) for t in json.loads(sys.argv[2])]
out = {}
for cls in (DirectExchange, TopicExchange, FanoutExchange):
    out[cls.type] = {k: sorted(cls(None).lookup(table, 'x', k, None)) for k in json.loads(sys.argv[3])}
print(json.dumps(out))
`;
    const theirs = JSON.parse(
      await kombu(script, server.url(0), JSON.stringify(table), JSON.stringify(keys)),
    ) as Record<string, Record<string, string[]>>;
    const members = table.map(([routingKey, pattern, queue]) => ({
      routingKey: routingKey!,
      pattern: pattern!,
      queue: queue!,
    }));
    for (const type of ['direct', 'topic', 'fanout'] as const) {
      for (const key of keys) {
        expect(matchingQueues(type, members, key).sort(), `${type} ${key}`).toEqual(theirs[type]![key]);
      }
    }
    // Not vacuous: the types disagree. kombu's topic lookup lets an empty pattern match every key
    // (re.match('')), and its '*' ('.*?[^\\.]') spans dots too; we match what it does.
    expect(theirs.topic!['a.b.c']).toEqual(['deep', 'plain', 'video']);
    expect(theirs.topic!['media.audio.hi']).toEqual(['all_media', 'one_word', 'plain', 'video']);
    expect(theirs.direct!['a.b.c']).toEqual([]);
    expect(theirs.fanout!.nothing).toEqual(['all_media', 'deep', 'one_word', 'plain', 'video']);
  });

  it('declareQueues writes the same _kombu.binding sets as kombu declaring the same queues', async () => {
    await kombu(KOMBU_DECLARE, server.url(0));
    const theirs = await bindingSets();
    await redis.flushall();
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    const declared = await broker.declareQueues(['video', 'all_media', 'one_word', 'plain']);
    expect(declared.map((b) => `${b.queue}:${b.exchange}:${b.exchangeType}`)).toEqual([
      'video:media:direct',
      'all_media:media_topic:topic',
      'one_word:media_topic:topic',
      'plain:celery:direct',
    ]);
    expect(await bindingSets()).toEqual(theirs);
    expect(Object.keys(theirs)).toEqual([
      '_kombu.binding.celery',
      '_kombu.binding.media',
      '_kombu.binding.media_topic',
    ]);
  });

  it('a queue missing from task_queues is created on its own exchange, or refused when missing queues are not created', async () => {
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    await broker.declareQueues(['extra']);
    expect(await redis.smembers('_kombu.binding.extra')).toEqual([`extra${SEP}${SEP}extra`]);
    const strict = await h.broker({
      taskQueues: taskQueuesFromSettings({ ...QUEUES, task_create_missing_queues: false }),
    });
    await expect(strict.declareQueues(['video', 'extra'])).rejects.toMatchObject({
      code: 'BROKER_QUEUE_NOT_FOUND',
      message: expect.stringContaining('"extra" is not defined in task_queues'),
    });
  });

  it('a kombu producer publishing to the exchange reaches the queues our worker side declared', async () => {
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    await broker.declareQueues(['video', 'all_media', 'one_word']);
    const script = `
import sys
from kombu import Connection, Exchange
with Connection(sys.argv[1]) as conn:
    ch = conn.default_channel
    Exchange('media_topic', 'topic')(ch).declare()
    p = conn.Producer(ch)
    p.publish({'n': 1}, exchange='media', routing_key='media.video', serializer='json')
    p.publish({'n': 2}, exchange='media_topic', routing_key='media.audio', serializer='json')
    p.publish({'n': 3}, exchange='media_topic', routing_key='media.audio.hi', serializer='json')
    p.publish({'n': 4}, exchange='media', routing_key='nobody', serializer='json')
`;
    await kombu(script, server.url(0));
    const got = await broker.fetchBatch(['video', 'all_media', 'one_word'], 10);
    const byQueue = (q: string) =>
      got
        .filter((d) => d.queue === q)
        .map((d) => JSON.parse(Buffer.from(JSON.parse(d.raw).body, 'base64').toString()).n)
        .sort();
    expect(byQueue('video')).toEqual([1]);
    expect(byQueue('all_media')).toEqual([2, 3]);
    // kombu's '*' pattern ('.*?[^\\.]') matches 'audio.hi' too.
    expect(byQueue('one_word')).toEqual([2, 3]);
    expect(got).toHaveLength(5);
  });

  it('publishToExchange pushes to every matching bound queue, which kombu consumers read', async () => {
    await kombu(KOMBU_DECLARE, server.url(0));
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    const raw = rawEntry('t1');
    const sent = await broker.publishToExchange({
      exchange: 'media_topic',
      routingKey: 'media.audio',
      entries: [{ raw }],
    });
    expect(sent.queues.sort()).toEqual(['all_media', 'one_word']);
    const script = `
import json, sys
from kombu import Connection
with Connection(sys.argv[1]) as conn:
    ch = conn.default_channel
    out = {}
    for q in ('video', 'all_media', 'one_word'):
        m = ch.basic_get(q, no_ack=True)
        out[q] = m.properties['delivery_tag'] if m else None
    print(json.dumps(out))
`;
    expect(JSON.parse(await kombu(script, server.url(0)))).toEqual({ video: null, all_media: 't1', one_word: 't1' });
  });

  it('a routing key no binding matches is refused with BROKER_UNROUTABLE and nothing is written', async () => {
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    const before = await redis.dbsize();
    const error = await broker
      .publishToExchange({ exchange: 'media', routingKey: 'media.audio', entries: [{ raw: rawEntry('t2') }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnroutableError);
    expect(error).toMatchObject({ code: 'BROKER_UNROUTABLE', exchange: 'media', routingKey: 'media.audio' });
    expect((error as Error).message).toContain('routing key "media.audio"');
    // Only the bindings task_queues gives the exchange were declared, no list was pushed.
    expect(await redis.keys('*')).toEqual(['_kombu.binding.media']);
    expect(before).toBe(0);
    const unknown = await broker
      .publishToExchange({ exchange: 'ghost', routingKey: 'x', entries: [{ raw: rawEntry('t3') }] })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'BROKER_UNROUTABLE', exchange: 'ghost' });
  });

  it('fanout goes out on kombu pub/sub channel, received by a kombu consumer of a fanout-bound queue', async () => {
    const script = `
import sys
from kombu import Connection, Exchange, Queue
with Connection(sys.argv[1]) as conn:
    got = []
    q = Queue('bcast', Exchange('fx', 'fanout'))
    with conn.Consumer(q, callbacks=[lambda body, m: (got.append(m.properties['delivery_tag']), m.ack())], accept=['json']):
        print('subscribed', flush=True)
        while not got:
            conn.drain_events(timeout=20)
    print(got[0], flush=True)
`;
    const child = spawn(PYTHON, ['-c', script, server.url(0)]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      await until(
        async () => out.includes('subscribed') && Number(await redis.call('PUBSUB', 'NUMPAT')) > 0,
        20_000,
        50,
      );
      const broker = await h.broker({ taskQueues: taskQueuesFromSettings({}) });
      const sent = await broker.publishToExchange({
        exchange: 'fx',
        routingKey: '',
        exchangeType: 'fanout',
        entries: [{ raw: rawEntry('fan-1') }],
      });
      expect(sent.receivers).toBe(1);
      await until(() => out.includes('fan-1'), 20_000, 50);
      await expect(
        broker.publishToExchange({
          exchange: 'nobody_listens',
          routingKey: '',
          exchangeType: 'fanout',
          entries: [{ raw: rawEntry('x') }],
        }),
      ).rejects.toMatchObject({ code: 'BROKER_UNROUTABLE' });
    } finally {
      child.kill();
    }
  });

  it('a message kombu took through a named exchange and left unacked is restored to its queue, not to its routing key', async () => {
    await kombu(KOMBU_DECLARE, server.url(0));
    const script = `
import os, sys
from kombu import Connection
conn = Connection(sys.argv[1])
ch = conn.channel()
conn.Producer(ch).publish({'n': 1}, exchange='media', routing_key='media.video', serializer='json')
msg = ch.basic_get('video', no_ack=False)
sys.stdout.write(msg.delivery_tag)
sys.stdout.flush()
os._exit(0)
`;
    const tag = await kombu(script, server.url(0));
    const unacked = JSON.parse((await redis.hget('unacked', tag))!) as [unknown, string, string];
    expect(unacked.slice(1)).toEqual(['media', 'media.video']);
    const broker = await h.broker({ visibilityTimeoutMs: 100, taskQueues: taskQueuesFromSettings(QUEUES) });
    await new Promise((r) => setTimeout(r, 200));
    expect(await broker.restoreVisibilityTimeout()).toBe(1);
    expect(await redis.llen('video')).toBe(1);
    expect(await redis.exists('media.video')).toBe(0);
  });

  it('after Redis restarts empty, the consumed queues are declared again on reconnect', async () => {
    const broker = await h.broker({ taskQueues: taskQueuesFromSettings(QUEUES) });
    await broker.declareQueues(['video']);
    await redis.set('marker', '1');
    await server.kill();
    await server.restart();
    // Redis came back empty (the binding may already be back: the broker reconnects on its own).
    expect(await redis.exists('marker')).toBe(0);
    await until(async () => (await redis.smembers('_kombu.binding.media')).length > 0, 20_000, 50);
    expect(await redis.smembers('_kombu.binding.media')).toEqual([`media.video${SEP}${SEP}video`]);
  });

  it('fanout-bound queues: every worker gets its own copy of each broadcast (kombu publisher or ours)', async () => {
    const table = taskQueuesFromSettings({ task_queues: { bcast: { exchange: 'bc', exchange_type: 'fanout' } } });
    const w1 = await h.broker({ taskQueues: table, ownerId: 'w1' });
    const w2 = await h.broker({ taskQueues: table, ownerId: 'w2' });
    for (const w of [w1, w2]) await w.declareQueues(['bcast']);
    expect(await redis.smembers('_kombu.binding.bc')).toEqual([`bcast${SEP}${SEP}bcast`]);
    // Both subscribed (NUMPAT counts distinct patterns: count the clients with a pattern instead).
    await until(async () => String(await redis.call('CLIENT', 'LIST')).split('psub=1').length - 1 === 2, 10_000, 20);
    const script = `
import sys
from kombu import Connection, Exchange
with Connection(sys.argv[1]) as conn:
    ch = conn.default_channel
    Exchange('bc', 'fanout')(ch).declare()
    conn.Producer(ch).publish({'n': 1}, exchange='bc', routing_key='bcast', serializer='json')
`;
    await kombu(script, server.url(0));
    const client = await h.broker({ taskQueues: table });
    expect(
      await client.publishToExchange({
        exchange: 'bc',
        routingKey: 'bcast',
        entries: [{ raw: rawEntry('ours', { queue: 'bcast' }) }],
      }),
    ).toEqual({ queues: [], receivers: 2 });
    const take = async (w: typeof w1) => {
      const got: string[] = [];
      await until(
        async () => {
          for (const d of await w.fetchBatch(['bcast'], 10)) {
            got.push(d.deliveryTag === 'ours' ? 'ours' : 'kombu');
            await w.ack([d.deliveryTag]);
          }
          return got.length >= 2;
        },
        10_000,
        20,
      );
      return got.sort();
    };
    expect(await take(w1)).toEqual(['kombu', 'ours']);
    expect(await take(w2)).toEqual(['kombu', 'ours']);
    // A retry published by w1 to its fanout queue comes back to w1 only; the shared list stays empty.
    await w1.publish('bcast', rawEntry('retry', { queue: 'bcast' }));
    expect((await w1.fetchBatch(['bcast'], 5)).map((d) => d.deliveryTag)).toEqual(['retry']);
    expect(await w2.fetchBatch(['bcast'], 5)).toEqual([]);
    // A plain publish to the queue from another broker (the app's, as a retry goes) is a broadcast, as in Celery.
    await client.publish('bcast', rawEntry('again', { queue: 'bcast' }));
    for (const w of [w1, w2]) {
      await until(async () => (await w.fetchBatch(['bcast'], 5)).some((d) => d.deliveryTag === 'again'), 10_000, 20);
    }
    expect(await redis.exists('bcast')).toBe(0);
  });

  it('binding members split on the transport separator', () => {
    expect(parseBindingMember(`rk${SEP}${SEP}q`, SEP)).toEqual({ routingKey: 'rk', pattern: '', queue: 'q' });
    expect(parseBindingMember('rk:p:q', ':')).toEqual({ routingKey: 'rk', pattern: 'p', queue: 'q' });
    expect(parseBindingMember('broken', SEP)).toBeUndefined();
  });
});
