// The delayed set (eta beyond the worker's horizon) and the bounded, inspectable dead-letter list.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisServer } from '../../../test/support/redis-server.js';
import type { Delivery, RedisBroker } from '../src/index.js';
import { rawEntry, useBrokerServer } from './helpers.js';

let _server: RedisServer;
let redis: Redis;

const { broker } = useBrokerServer((s, r) => {
  _server = s;
  redis = r;
});

describe('delayed set', () => {
  it('defer moves held entries to the sorted set by due time and acks them, atomically', async () => {
    const b = await broker({ ownerId: 'w:1' });
    await b.publishMany(['later', 'much-later'].map((t) => ({ queue: 'celery', raw: rawEntry(t) })));
    const [later, muchLater] = (await b.fetchBatch(['celery'], 2)) as [Delivery, Delivery];
    const dueMs = Date.now() + 60_000;
    expect(
      await b.defer([
        { delivery: later, taskId: 'id-later', dueMs },
        { delivery: muchLater, taskId: 'id-much-later', dueMs: Date.UTC(9999, 0, 1) },
      ]),
    ).toBe(2);
    expect(await redis.exists('unacked', 'unacked_index', 'celeriac.held.w:1')).toBe(0);
    const members = await redis.zrange('celeriac.delayed', 0, -1, 'WITHSCORES');
    expect(members).toEqual([
      `celery\x06\x16id-later\x06\x16${rawEntry('later')}`,
      String(dueMs),
      `celery\x06\x16id-much-later\x06\x16${rawEntry('much-later')}`,
      String(Date.UTC(9999, 0, 1)),
    ]);
    // An entry no longer held (restored meanwhile) is not deferred twice.
    expect(await b.defer([{ delivery: later, taskId: 'id-later', dueMs }])).toBe(0);
    expect(await b.delayedCount()).toBe(2);
  });

  it('promoteDue returns due entries to the head of their queue by Redis TIME, in limited steps', async () => {
    const b = await broker();
    const [seconds] = (await redis.time()) as [number, number];
    const redisNowMs = Number(seconds) * 1000;
    await redis.rpush('celery', rawEntry('queued'));
    await redis.zadd(
      'celeriac.delayed',
      redisNowMs - 2_000,
      `celery\x06\x16id-a\x06\x16${rawEntry('a')}`,
      redisNowMs - 1_000,
      `celery\x06\x16id-b\x06\x16${rawEntry('b')}`,
      redisNowMs + 60_000,
      `celery\x06\x16id-c\x06\x16${rawEntry('c')}`,
    );
    expect(await b.promoteDue(1)).toMatchObject({ promoted: 1, dropped: [], limited: 0 });
    expect(await b.promoteDue(10)).toMatchObject({ promoted: 1, dropped: [], limited: 0 });
    // What stays is due in about a minute, by Redis's clock: the upkeep sleeps until then (at most its cap).
    // RedisBroker.promoteDue's type names only what callers use; the upkeep reads the rest.
    const last = (await b.promoteDue(10)) as unknown as { promoted: number; nextDueInMs: number | null };
    expect(last).toMatchObject({ promoted: 0, dropped: [] });
    expect(last.nextDueInMs).toBeGreaterThan(50_000);
    expect(last.nextDueInMs).toBeLessThanOrEqual(60_000);
    // RPUSH: due entries are taken next, ahead of what was queued.
    const taken = await b.fetchBatch(['celery'], 3);
    expect(taken.map((d) => d.deliveryTag)).toEqual(['b', 'a', 'queued']);
    expect(await redis.zcard('celeriac.delayed')).toBe(1);
  });

  it('the revoke hook drops revoked tasks and returns them', async () => {
    const b = await broker({ revokedKey: 'test.revoked' });
    await redis.sadd('test.revoked', 'id-revoked');
    await redis.zadd(
      'celeriac.delayed',
      1,
      `celery\x06\x16id-revoked\x06\x16${rawEntry('revoked')}`,
      2,
      `celery\x06\x16id-fine\x06\x16${rawEntry('fine')}`,
    );
    expect(await b.promoteDue()).toMatchObject({
      promoted: 1,
      dropped: [{ taskId: 'id-revoked', queue: 'celery', raw: rawEntry('revoked') }],
      nextDueInMs: null,
    });
    expect(await redis.lrange('celery', 0, -1)).toEqual([rawEntry('fine')]);
  });
});

describe('dead-letter list', () => {
  async function deadLetterOne(b: RedisBroker, tag: string, raw = rawEntry(tag)): Promise<void> {
    await b.publish('celery', raw);
    const [d] = await b.fetchBatch(['celery'], 1);
    await b.deadLetter(d!, `bad_input: ${tag}`);
  }

  it('keeps at most deadLetterMaxEntries records, the newest', async () => {
    const b = await broker({ deadLetterMaxEntries: 3 });
    for (let i = 0; i < 5; i++) await deadLetterOne(b, `t${i}`);
    const entries = await b.deadLetters.list(0, 10);
    console.log(`dead-letter cap: 5 dead-lettered with a cap of 3, ${entries.length} kept`);
    expect(entries.map((e) => e.record?.delivery_tag)).toEqual(['t4', 't3', 't2']);
    expect(await b.deadLetters.length()).toBe(3);
  });

  it('stores an oversize raw truncated with its size and sha256, and refuses to requeue it', async () => {
    const b = await broker({ deadLetterMaxRawBytes: 1024 });
    const big = rawEntry('big').replace('"tasks.add"', `"tasks.add", "pad": "${'x'.repeat(20_000)}"`);
    await deadLetterOne(b, 'big', big);
    const stored = (await redis.lindex('celeriac.dead-letter', 0))!;
    expect(stored.length).toBeLessThan(2_000);
    const { record } = await b.deadLetters.show(0);
    expect(record).toMatchObject({
      reason: 'bad_input: big',
      queue: 'celery',
      delivery_tag: 'big',
      task_id: 'id-big',
      task: 'tasks.add',
      raw_bytes: Buffer.byteLength(big),
      raw_sha256: createHash('sha256').update(big).digest('hex'),
      raw_truncated: true,
    });
    expect(record!.raw).toBe(big.slice(0, 1024));
    await expect(b.deadLetters.requeue(0)).rejects.toMatchObject({ code: 'BROKER_DEAD_LETTER_NOT_REQUEUEABLE' });
    expect(await b.deadLetters.requeue('all')).toEqual({ requeued: 0, kept: 1 });
  });

  it('list, show, requeue one or all (oldest first), purge', async () => {
    const b = await broker();
    for (const tag of ['d0', 'd1', 'd2', 'd3']) await deadLetterOne(b, tag);
    await redis.lpush('celeriac.dead-letter', 'not a record');
    const listed = await b.deadLetters.list(1, 2);
    expect(listed.map((e) => [e.index, e.record?.delivery_tag, e.record?.task_id, e.record?.task])).toEqual([
      [1, 'd3', 'id-d3', 'tasks.add'],
      [2, 'd2', 'id-d2', 'tasks.add'],
    ]);
    expect((await b.deadLetters.show(0)).unreadable).toBe('not a record');
    await expect(b.deadLetters.show(9)).rejects.toMatchObject({ code: 'BROKER_DEAD_LETTER_NOT_FOUND' });
    await expect(b.deadLetters.show(-1)).rejects.toMatchObject({ code: 'BROKER_DEAD_LETTER_BAD_INDEX' });

    await redis.set('celeriac.redeliveries.d2', '6');
    expect(await b.deadLetters.requeue(2)).toEqual({ requeued: 1, kept: 0 });
    expect(await redis.lrange('celery', 0, -1)).toEqual([rawEntry('d2')]);
    expect(await redis.exists('celeriac.redeliveries.d2')).toBe(0);
    expect(await b.deadLetters.requeue('all')).toEqual({ requeued: 3, kept: 1 });
    // LPUSH, like a new publish: the oldest record's entry is taken first.
    expect(await redis.lrange('celery', 0, -1)).toEqual([
      rawEntry('d3'),
      rawEntry('d1'),
      rawEntry('d0'),
      rawEntry('d2'),
    ]);
    expect(await b.deadLetters.purge()).toBe(1);
    expect(await b.deadLetters.length()).toBe(0);
  });

  it('requeue all works through more records than one script call takes', async () => {
    const b = await broker();
    const records = Array.from({ length: 450 }, (_, i) =>
      JSON.stringify({ raw: rawEntry(`m${i}`), reason: 'x', queue: 'many', at: '', delivery_tag: `m${i}` }),
    );
    await redis.lpush('celeriac.dead-letter', ...records);
    expect(await b.deadLetters.requeue('all')).toEqual({ requeued: 450, kept: 0 });
    expect(await redis.llen('many')).toBe(450);
  });
});
