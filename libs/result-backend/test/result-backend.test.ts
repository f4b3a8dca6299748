import { readFileSync } from 'node:fs';
import { createLogger } from '@celeriac/logger';
import { encodeResult, type ResultDocument } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisResultBackend, ResultBackendClosedError, type ResultBackendError } from '../src/index.js';

let server: RedisServer;
let redis: Redis;
const backends: RedisResultBackend[] = [];

function logger() {
  return createLogger({ level: 'silent', pretty: false });
}

async function backend(options: { resultExpiresSec?: number; url?: string } = {}): Promise<RedisResultBackend> {
  const b = new RedisResultBackend({ url: options.url ?? server.url(1), logger: logger(), ...options });
  await b.start();
  backends.push(b);
  return b;
}

function doc(taskId: string, status: string, result: unknown = 5): ResultDocument {
  const final = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: final ? '2026-11-24T21:32:13.245331' : null,
    task_id: taskId,
  };
}

async function numsub(channel: string): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(1), { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await redis.flushall();
});
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

describe('store', () => {
  it('SETEXes celery-task-meta-<id> with the expiry and publishes the same JSON', async () => {
    const b = await backend();
    const listener = new Redis(server.url(1));
    const seen: [string, string][] = [];
    listener.on('message', (channel: string, message: string) => seen.push([channel, message]));
    await listener.subscribe('celery-task-meta-t1');
    try {
      const d = doc('t1', 'SUCCESS', { sum: 3 });
      await b.store(d);
      const key = 'celery-task-meta-t1';
      expect(await redis.get(key)).toBe(encodeResult(d));
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(86_390);
      expect(ttl).toBeLessThanOrEqual(86_400);
      await until(() => seen.length === 1);
      expect(seen[0]).toEqual([key, encodeResult(d)]);
      expect(await b.get('t1')).toEqual(d);
    } finally {
      listener.disconnect();
    }
  });

  it('storeMany writes a whole batch with the configured expiry; forget deletes', async () => {
    const b = await backend({ resultExpiresSec: 60 });
    await b.storeMany([doc('a', 'SUCCESS', 1), doc('b', 'FAILURE', { exc_type: 'ValueError' }), doc('c', 'RETRY')]);
    expect((await redis.keys('*')).sort()).toEqual(['celery-task-meta-a', 'celery-task-meta-b', 'celery-task-meta-c']);
    for (const id of ['a', 'b', 'c']) {
      const ttl = await redis.ttl(`celery-task-meta-${id}`);
      expect(ttl).toBeGreaterThan(50);
      expect(ttl).toBeLessThanOrEqual(60);
    }
    expect((await b.get('b'))!.status).toBe('FAILURE');
    await b.forget('b');
    expect(await b.get('b')).toBeNull();
    expect(await b.get('never-stored')).toBeNull();
  });

  it('reads documents written by Python Celery', async () => {
    const fx = JSON.parse(readFileSync(`${CELERY_FIXTURES_DIR}/result_pubsub_messages.json`, 'utf8')) as {
      messages: { channel: string; data: string }[];
    };
    const b = await backend();
    const message = fx.messages.find((m) => JSON.parse(m.data).status === 'FAILURE')!;
    await redis.set(message.channel, message.data);
    const taskId = message.channel.slice('celery-task-meta-'.length);
    const got = await b.get(taskId);
    expect(got).toMatchObject({ status: 'FAILURE', task_id: taskId, result: { exc_module: 'builtins' } });
  });
});

describe('waitFor', () => {
  it('wakes by pub/sub, shares one SUBSCRIBE between waiters and unsubscribes after', async () => {
    const waiterSide = await backend();
    const workerSide = await backend();
    const first = waiterSide.waitFor('t2', 10_000);
    const second = waiterSide.waitFor('t2', 10_000);
    await until(async () => (await numsub('celery-task-meta-t2')) === 1);
    const storedAt = Date.now();
    await workerSide.store(doc('t2', 'SUCCESS', 42));
    const [a, b] = await Promise.all([first, second]);
    expect(Date.now() - storedAt).toBeLessThan(1_000);
    expect(a).toEqual(doc('t2', 'SUCCESS', 42));
    expect(b).toEqual(a);
    await until(async () => (await numsub('celery-task-meta-t2')) === 0);
  });

  it('sees a result stored before the wait began', async () => {
    const b = await backend();
    await b.store(doc('early', 'REVOKED', null));
    expect((await b.waitFor('early', 5_000))!.status).toBe('REVOKED');
  });

  it('keeps waiting through non-final states, reporting them, and resolves on the final one', async () => {
    const waiterSide = await backend();
    const workerSide = await backend();
    const updates: string[] = [];
    const done = waiterSide.waitFor('t3', 10_000, { onUpdate: (d) => updates.push(d.status) });
    await until(async () => (await numsub('celery-task-meta-t3')) === 1);
    await workerSide.store(doc('t3', 'STARTED', { pid: 1, hostname: 'w' }));
    await workerSide.store(doc('t3', 'PROGRESS', { done: 50 }));
    await until(() => updates.length === 2);
    expect(waiterSide.latestUpdate('t3')!.result).toEqual({ done: 50 });
    await workerSide.store(doc('t3', 'RETRY', null));
    await workerSide.store(
      doc('t3', 'FAILURE', { exc_type: 'ValueError', exc_message: ['x'], exc_module: 'builtins' }),
    );
    expect((await done)!.status).toBe('FAILURE');
    expect(updates).toEqual(['STARTED', 'PROGRESS', 'RETRY']);
  });

  it('reports a state stored before the wait once, however many reads and messages carry it', async () => {
    const waiterSide = await backend();
    const workerSide = await backend();
    await workerSide.store(doc('t4', 'STARTED', { pid: 1, hostname: 'w' }));
    const updates: string[] = [];
    const done = waiterSide.waitFor('t4', 10_000, { onUpdate: (d) => updates.push(d.status) });
    await until(async () => (await numsub('celery-task-meta-t4')) === 1);
    await until(() => updates.length === 1);
    await workerSide.store(doc('t4', 'PROGRESS', { done: 50 }));
    await until(() => updates.length === 2);
    await workerSide.store(doc('t4', 'SUCCESS', 7));
    expect((await done)!.result).toBe(7);
    expect(updates).toEqual(['STARTED', 'PROGRESS']);
  });

  it('reports a document once when the message of its store arrives after a read returned it', async () => {
    const waiterSide = await backend();
    const workerSide = await backend();
    await workerSide.store(doc('t4b', 'STARTED', { pid: 1, hostname: 'w' }));
    const updates: string[] = [];
    const done = waiterSide.waitFor('t4b', 10_000, { onUpdate: (d) => updates.push(d.status) });
    await until(async () => (await numsub('celery-task-meta-t4b')) === 1);
    await until(() => updates.length === 1);
    // The same store's message, arriving after the read (the race a loaded machine produces).
    const stored = await redis.getBuffer('celery-task-meta-t4b');
    await redis.publish('celery-task-meta-t4b', stored as Buffer);
    await workerSide.store(doc('t4b', 'SUCCESS', 7));
    expect((await done)!.result).toBe(7);
    expect(updates).toEqual(['STARTED']);
  });

  it('finds a result stored before the wait', async () => {
    const waiterSide = await backend();
    const workerSide = await backend();
    await workerSide.store(doc('t5', 'SUCCESS', 8));
    expect((await waiterSide.waitFor('t5', 10_000))!.result).toBe(8);
    await until(async () => (await numsub('celery-task-meta-t5')) === 0);
  });

  it('resolves null on timeout and leaves the channel', async () => {
    const b = await backend();
    const started = Date.now();
    expect(await b.waitFor('nobody', 150)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await until(async () => (await numsub('celery-task-meta-nobody')) === 0);
  });

  it('wakes on a message published by Python Celery', async () => {
    const fx = JSON.parse(readFileSync(`${CELERY_FIXTURES_DIR}/result_pubsub_messages.json`, 'utf8')) as {
      messages: { channel: string; data: string }[];
    };
    const message = fx.messages[0]!;
    const taskId = message.channel.slice('celery-task-meta-'.length);
    const b = await backend();
    const waiting = b.waitFor(taskId, 10_000);
    await until(async () => (await numsub(message.channel)) === 1);
    await redis.publish(message.channel, message.data);
    expect(await waiting).toEqual(JSON.parse(message.data));
  });
});

describe('lifecycle', () => {
  it('close is idempotent, fails pending waiters and leaves no sockets or timers', async () => {
    const count = (name: string) => process.getActiveResourcesInfo().filter((r) => r === name).length;
    const sockets = count('TCPSocketWrap');
    const timers = count('Timeout');
    const b = new RedisResultBackend({ url: server.url(1), logger: logger() });
    await b.start();
    const pending = b.waitFor('x', 60_000).catch((e: unknown) => e);
    await Promise.all([b.close(), b.close()]);
    expect(await pending).toBeInstanceOf(ResultBackendClosedError);
    await expect(b.get('x')).rejects.toMatchObject({ code: 'RESULT_BACKEND_CLOSED' });
    await until(() => count('TCPSocketWrap') <= sockets && count('Timeout') <= timers, 5_000);
  });

  it('survives a Redis restart: a clear error without the password, then it works again', async () => {
    await redis.config('SET', 'requirepass', 'pw-123');
    const url = `redis://:pw-123@127.0.0.1:${server.port}/1`;
    const b = await backend({ url });
    const waiting = b.waitFor('across', 30_000);
    await until(async () => (await numsub('celery-task-meta-across')) === 1);
    await server.kill();
    const error = (await b.store(doc('during', 'SUCCESS')).catch((e: unknown) => e)) as ResultBackendError;
    expect(error.code).toBe('RESULT_BACKEND_UNAVAILABLE');
    expect(error.message).not.toContain('pw-123');
    await server.restart();
    await until(() =>
      b.store(doc('across', 'SUCCESS', 'after restart')).then(
        () => true,
        () => false,
      ),
    );
    expect((await waiting)!.result).toBe('after restart');
    await redis.config('SET', 'requirepass', '').catch(() => undefined);
  });
});
