// Delivery guarantees of a consumer with an owner id: atomic moves into its in-flight lists, one
// blocking lane per queue, leases that keep restores off what a live owner holds, and the cap on
// redeliveries after crashes.

import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisServer } from '../../../test/support/redis-server.js';
import { RedisBroker } from '../src/index.js';
import { rawEntry, testLogger, until, useBrokerServer } from './helpers.js';

let server: RedisServer;
let redis: Redis;

/** Clients blocked right now in `command`. */
const blockedIn = async (command: string) =>
  ((await redis.client('LIST')) as string)
    .split('\n')
    .filter((line) => /\bflags=\w*b/.test(line) && line.includes(`cmd=${command} `)).length;

const inflight = (owner: string, queue: string) => `celeriac.inflight.${owner}\x06\x16${queue}`;

const { broker } = useBrokerServer((s, r) => {
  server = s;
  redis = r;
});

describe('atomic idle pop into the owner in-flight list', () => {
  it('registers the owner and its queues and holds a lease before it blocks', async () => {
    const b = await broker({ ownerId: 'w:1', visibilityTimeoutMs: 60_000 });
    const waiting = b.waitForOne(['a', 'b'], 5);
    await until(async () => (await blockedIn('blmove')) === 2);
    expect(JSON.parse((await redis.hget('celeriac.owners', 'w:1'))!).queues).toEqual(['a', 'b']);
    const ttl = await redis.pttl('celeriac.lease.w:1');
    expect(ttl).toBeGreaterThan(50_000);
    const sentAt = Date.now();
    await redis.lpush('b', rawEntry('lone-b', { queue: 'b' }));
    const d = await waiting;
    expect(Date.now() - sentAt).toBeLessThan(500);
    expect(d).toEqual({ raw: rawEntry('lone-b', { queue: 'b' }), queue: 'b', deliveryTag: 'lone-b' });
    expect(await redis.hkeys('celeriac.held.w:1')).toEqual(['lone-b']);
    expect(await redis.exists(inflight('w:1', 'a'), inflight('w:1', 'b'))).toBe(0);
    // The other lane was unblocked at once.
    await until(async () => (await blockedIn('blmove')) === 0);
    await b.ack(['lone-b']);
    await b.close();
    expect(await redis.keys('celeriac.*')).toEqual([]);
  });

  it('a lane that also got an entry gives it back to the head of its queue', async () => {
    const b = await broker({ ownerId: 'w:2' });
    const waiting = b.waitForOne(['a', 'b'], 5);
    await until(async () => (await blockedIn('blmove')) === 2);
    await redis
      .multi()
      .lpush('a', rawEntry('a1', { queue: 'a' }))
      .lpush('b', rawEntry('b1', { queue: 'b' }))
      .exec();
    const first = await waiting;
    const other = first!.queue === 'a' ? 'b' : 'a';
    await until(async () => (await redis.llen(other)) === 1);
    expect(await redis.exists(inflight('w:2', 'a'), inflight('w:2', 'b'))).toBe(0);
    expect(await redis.hkeys('unacked')).toEqual([first!.deliveryTag]);
  });

  it('a priority sub-list that delivered gets a lane of its own', async () => {
    const b = await broker({ ownerId: 'w:3' });
    await redis.lpush('celery\x06\x166', rawEntry('p6', { priority: 6 }));
    expect((await b.fetchBatch(['celery'], 1))[0]!.deliveryTag).toBe('p6');
    const waiting = b.waitForOne(['celery'], 5);
    await until(async () => (await blockedIn('blmove')) === 2);
    const sentAt = Date.now();
    await redis.lpush('celery\x06\x166', rawEntry('p6-lone', { priority: 6 }));
    expect((await waiting)!.deliveryTag).toBe('p6-lone');
    expect(Date.now() - sentAt).toBeLessThan(500);
  });

  it('never loses an entry that arrives while closing', async () => {
    let delivered = 0;
    const rounds = 30;
    for (let round = 0; round < rounds; round++) {
      const b = new RedisBroker({ url: server.url(0), logger: testLogger(), ownerId: `close:${round}` });
      await b.start();
      const waiting = b.waitForOne(['race'], 5);
      await new Promise((r) => setTimeout(r, 5));
      await redis.lpush('race', rawEntry(`race-${round}`));
      const [delivery] = await Promise.all([waiting, b.close()]);
      if (delivery) delivered++;
    }
    expect((await redis.llen('race')) + (await redis.hlen('unacked'))).toBe(rounds);
    expect(await redis.hlen('unacked')).toBe(delivered);
    expect(await redis.keys('celeriac.inflight.*')).toEqual([]);
  });
});

describe('restores of a dead owner', () => {
  /** What a process killed between BLMOVE and its record leaves: an entry in its in-flight list. */
  async function diedInFlight(owner: string, tag: string): Promise<void> {
    await redis.hset('celeriac.owners', owner, JSON.stringify({ queues: ['celery'], at: Date.now() }));
    await redis.lpush(inflight(owner, 'celery'), rawEntry(tag));
  }

  it('restoreOwner puts back what the dead owner had moved, redelivered, and forgets the owner', async () => {
    await diedInFlight('dead:1', 'moved');
    const agent = await broker();
    expect(await agent.restoreOwner('dead:1')).toBe(1);
    const [raw] = await redis.lrange('celery', 0, -1);
    expect(JSON.parse(raw!).headers.redelivered).toBe(true);
    expect(await redis.exists(inflight('dead:1', 'celery'), 'celeriac.lease.dead:1')).toBe(0);
    expect(await redis.hexists('celeriac.owners', 'dead:1')).toBe(0);
  });

  it('the visibility restore drains the in-flight list of an owner whose lease expired, not of a live one', async () => {
    await diedInFlight('dead:2', 'gone');
    const live = await broker({ ownerId: 'live:1' });
    await redis.lpush(inflight('live:1', 'celery'), rawEntry('in-hand'));
    const restorer = await broker({ visibilityTimeoutMs: 100 });
    expect(await restorer.restoreVisibilityTimeout()).toBe(1);
    expect((await redis.lrange('celery', 0, -1)).map((r) => JSON.parse(r).properties.delivery_tag)).toEqual(['gone']);
    expect(await redis.llen(inflight('live:1', 'celery'))).toBe(1);
    expect(await redis.hkeys('celeriac.owners')).toEqual(['live:1']);
    await redis.del(inflight('live:1', 'celery'));
    await live.close();
  });

  it('a live owner keeps a task longer than the visibility timeout: its lease refreshes the score', async () => {
    const owner = await broker({ ownerId: 'long:1', visibilityTimeoutMs: 200 });
    const restorer = await broker({ visibilityTimeoutMs: 200 });
    await owner.publish('celery', rawEntry('long'));
    await owner.fetchBatch(['celery'], 1);
    const first = Number(await redis.zscore('unacked_index', 'long'));
    await new Promise((r) => setTimeout(r, 600));
    expect(await restorer.restoreVisibilityTimeout()).toBe(0);
    expect(await redis.hexists('unacked', 'long')).toBe(1);
    // Refreshed in unacked_index (what a Python worker's restore reads) and in the owner hash alike.
    const now = Number(await redis.zscore('unacked_index', 'long'));
    expect(now).toBeGreaterThan(first + 0.3);
    expect(Number(await redis.hget('celeriac.held.long:1', 'long'))).toBe(now);
    // Once it stops renewing (a dead process), the timeout applies again.
    await owner.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(await restorer.restoreVisibilityTimeout()).toBe(1);
    expect(await redis.hlen('celeriac.owners')).toBe(0);
  });
});

describe('redelivery limit', () => {
  it('counts only runs the owner marked as started; at the limit the entry waits on the redelivery-limit list', async () => {
    const agent = await broker({ redeliveryLimit: 2 });
    const worker = await broker({ ownerId: 'crashy:1', redeliveryLimit: 2 });
    await worker.publishMany(['bystander', 'poison'].map((t) => ({ queue: 'celery', raw: rawEntry(t) })));
    const pushedBack: number[] = [];
    const counts: number[][] = [];
    for (let run = 0; run < 3; run++) {
      const taken = await worker.fetchBatch(['celery'], 2);
      expect(taken.map((d) => d.deliveryTag).sort()).toEqual(['bystander', 'poison']);
      // A first delivery runs unmarked; a redelivered one is marked before it runs. The bystander
      // was only prefetched each time.
      if (run > 0) counts.push(await worker.markStarted(['poison']));
      pushedBack.push(await agent.restoreOwner('crashy:1'));
    }
    expect(counts).toEqual([[0], [1]]);
    expect(pushedBack).toEqual([2, 2, 1]);
    expect(await redis.get('celeriac.redeliveries.poison')).toBe('2');
    expect(await redis.exists('celeriac.redeliveries.bystander', 'celeriac.started.crashy:1')).toBe(0);
    expect(await redis.pttl('celeriac.redeliveries.poison')).toBeGreaterThan(6 * 24 * 3_600_000);
    const [bystander] = await worker.fetchBatch(['celery'], 2);
    expect(bystander!.deliveryTag).toBe('bystander');
    const [limited] = await worker.takeRedeliveryLimited(10);
    expect(limited).toMatchObject({ deliveryTag: 'poison', queue: 'celery', redeliveries: 2 });
    expect(JSON.parse(limited!.raw).headers.redelivered).toBe(true);
    // Held like a delivery until it is dead-lettered.
    expect((await redis.hkeys('celeriac.held.crashy:1')).sort()).toEqual(['bystander', 'poison']);
    await worker.deadLetter(limited!, 'redelivery_limit', { redeliveries: limited!.redeliveries });
    await worker.ack([bystander!.deliveryTag]);
    expect(await redis.exists('unacked', 'celeriac.redelivery-limit')).toBe(0);
    const record = JSON.parse((await redis.lindex('celeriac.dead-letter', 0))!);
    expect(record).toMatchObject({ reason: 'redelivery_limit', redeliveries: 2, task_id: 'id-poison' });
  });

  it('a restore applies the dead owner own limit, whoever restores', async () => {
    const agent = await broker();
    const worker = await broker({ ownerId: 'strict:1', redeliveryLimit: 1 });
    await worker.publish('celery', rawEntry('once'));
    await worker.fetchBatch(['celery'], 1);
    await worker.markStarted(['once']);
    expect(await agent.restoreOwner('strict:1')).toBe(0);
    expect(await redis.llen('celeriac.redelivery-limit')).toBe(1);
  });

  it('the mark is dropped with the ack, and a marked entry that finished is not counted', async () => {
    const worker = await broker({ ownerId: 'w:8' });
    await worker.publish('celery', rawEntry('fine'));
    await worker.fetchBatch(['celery'], 1);
    await worker.markStarted(['fine']);
    expect(await redis.smembers('celeriac.started.w:8')).toEqual(['fine']);
    await worker.ack(['fine']);
    expect(await redis.exists('celeriac.started.w:8')).toBe(0);
  });

  it('a hand-back at shutdown (requeue) is not counted', async () => {
    const worker = await broker({ ownerId: 'w:9', redeliveryLimit: 1 });
    await worker.publish('celery', rawEntry('polite'));
    for (let i = 0; i < 3; i++) await worker.requeue(await worker.fetchBatch(['celery'], 1));
    expect(await redis.exists('celeriac.redeliveries.polite')).toBe(0);
    expect(await redis.llen('celery')).toBe(1);
  });
});
