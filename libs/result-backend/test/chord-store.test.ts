// Chord counters and saved groups on a real redis-server, as Celery 5.2's Redis backend keeps them
// (`celery-taskset-meta-<gid>.{s,j,t}` and `celery-taskset-meta-<gid>`), and the race of parts
// finishing at once: exactly one of them completes the chord.
import { createLogger } from '@celeriac/logger';
import { deserialize } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { decodeChordPart, encodeChordPart, RedisResultBackend } from '../src/index.js';

let server: RedisServer;
let redis: Redis;
const backends: RedisResultBackend[] = [];

async function backend(serializer: 'json' | 'msgpack' = 'json'): Promise<RedisResultBackend> {
  const b = new RedisResultBackend({
    url: server.url(1),
    logger: createLogger({ level: 'silent', pretty: false }),
    serializer,
  });
  await b.start();
  backends.push(b);
  return b;
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(1));
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  redis.disconnect();
  await server.stop();
});

describe('chord counters', () => {
  it('stores the size with the result TTL, counts parts in group-index order and completes on the last', async () => {
    const b = await backend();
    await b.setChordSize('g1', 3);
    expect(await redis.get('celery-taskset-meta-g1.s')).toBe('3');
    expect(await redis.ttl('celery-taskset-meta-g1.s')).toBeGreaterThan(86_000);
    const r2 = await b.chordPartReturn('g1', 2, { taskId: 't2', state: 'SUCCESS', result: 30 });
    const r0 = await b.chordPartReturn('g1', 0, { taskId: 't0', state: 'SUCCESS', result: 10 });
    expect([r2.complete, r2.ready, r2.total, r0.complete, r0.ready]).toEqual([false, 1, 3, false, 2]);
    // Celery's member, byte for byte like json.dumps of the outer list.
    expect(await redis.zrange('celery-taskset-meta-g1.j', 0, -1, 'WITHSCORES')).toEqual([
      '[1, "t0", "SUCCESS", 10]',
      '0',
      '[1, "t2", "SUCCESS", 30]',
      '2',
    ]);
    const last = await b.chordPartReturn('g1', 1, {
      taskId: 't1',
      state: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['x'], exc_module: 'builtins' },
    });
    expect(last.complete).toBe(true);
    expect(last.parts.map((p) => [p.taskId, p.state])).toEqual([
      ['t0', 'SUCCESS'],
      ['t1', 'FAILURE'],
      ['t2', 'SUCCESS'],
    ]);
    await b.deleteChord('g1');
    expect(await redis.keys('celery-taskset-meta-g1*')).toEqual([]);
  });

  it('without a stored size (an early part of a Python client chord) the part is counted but nothing completes', async () => {
    const b = await backend();
    const r = await b.chordPartReturn('g2', 0, { taskId: 'a', state: 'SUCCESS', result: 1 });
    expect(r).toMatchObject({ complete: false, ready: 1, total: null });
    // `.t` (add_to_chord) raises the total.
    await b.setChordSize('g2', 1);
    await redis.incr('celery-taskset-meta-g2.t');
    expect((await b.chordPartReturn('g2', 1, { taskId: 'b', state: 'SUCCESS', result: 2 })).complete).toBe(true);
  });

  it('of 20 parts finishing at once on separate connections exactly one completes the chord', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => backend()));
    await clients[0]!.setChordSize('race', 20);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        clients[i % 5]!.chordPartReturn('race', i, { taskId: `t${i}`, state: 'SUCCESS', result: i }),
      ),
    );
    const completing = results.filter((r) => r.complete);
    expect(completing).toHaveLength(1);
    expect(completing[0]!.parts.map((p) => p.result)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('msgpack: parts are packed lists, as Celery with result_serializer=msgpack', async () => {
    const b = await backend('msgpack');
    await b.setChordSize('gm', 1);
    const r = await b.chordPartReturn('gm', 0, { taskId: 'm', state: 'SUCCESS', result: { a: [1, 'x'] } });
    expect(r.parts).toEqual([{ taskId: 'm', state: 'SUCCESS', result: { a: [1, 'x'] } }]);
    const [raw] = await redis.zrangeBuffer('celery-taskset-meta-gm.j', 0, -1);
    expect(deserialize(raw as Buffer, 'msgpack')).toEqual([1, 'm', 'SUCCESS', { a: [1, 'x'] }]);
    expect(decodeChordPart(Buffer.from(encodeChordPart({ taskId: 'j', state: 'SUCCESS', result: 2 }, 'json')))).toEqual(
      {
        taskId: 'j',
        state: 'SUCCESS',
        result: 2,
      },
    );
  });
});

describe('saved groups', () => {
  it('save / restore / delete `celery-taskset-meta-<gid>` = {"result": <as_tuple>}', async () => {
    const b = await backend();
    const tuple = [
      ['g', null],
      [
        [['a', null], null],
        [['b', null], null],
      ],
    ] as const;
    await b.saveGroup('g', tuple as never);
    expect(JSON.parse((await redis.get('celery-taskset-meta-g')) as string)).toEqual({ result: tuple });
    expect(await b.restoreGroup('g')).toEqual(tuple);
    await b.deleteGroup('g');
    expect(await b.restoreGroup('g')).toBeNull();
  });

  it('getMany reads results in one call; missing ones are null', async () => {
    const b = await backend();
    await b.store({ status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null, task_id: 'x1' });
    const docs = await b.getMany(['x1', 'nope']);
    expect(docs.map((d) => d?.result ?? null)).toEqual([1, null]);
  });
});
