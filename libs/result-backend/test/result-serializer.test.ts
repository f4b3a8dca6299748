// result_serializer and result_accept_content on a real redis-server: what is stored and published,
// what is read back, and what is refused.
import { createLogger } from '@celeriac/logger';
import {
  DOCUMENT_SERIALIZER,
  encodeResult,
  encodeResultDocument,
  type ResultDocument,
  SerializerUnsupportedError,
} from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisResultBackend, type ResultBackendOptions, ResultContentDisallowedError } from '../src/index.js';

let server: RedisServer;
let redis: Redis;
const backends: RedisResultBackend[] = [];

async function backend(options: Partial<ResultBackendOptions> = {}): Promise<RedisResultBackend> {
  const b = new RedisResultBackend({ url: server.url(1), logger: createLogger({ level: 'silent' }), ...options });
  await b.start();
  backends.push(b);
  return b;
}

function doc(taskId: string, status = 'SUCCESS', result: unknown = { n: 5, s: 'é' }): ResultDocument {
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: status === 'SUCCESS' ? '2026-11-24T21:32:13.245331' : null,
    task_id: taskId,
  };
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function numsub(channel: string): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(1));
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

describe('result_serializer', () => {
  it('msgpack: stores and publishes the msgpack bytes Celery writes, and reads them back', async () => {
    const b = await backend({ serializer: 'msgpack' });
    const listener = new Redis(server.url(1));
    const seen: Buffer[] = [];
    listener.on('messageBuffer', (_channel: Buffer, message: Buffer) => seen.push(message));
    await listener.subscribe('celery-task-meta-m1');
    try {
      const d = doc('m1');
      await b.storeMany([d, doc('m2', 'STARTED', { pid: 1, hostname: 'w' })]);
      const stored = await redis.getBuffer('celery-task-meta-m1');
      expect(stored).toEqual(encodeResultDocument(d, 'msgpack'));
      await until(() => seen.length === 1);
      expect(seen[0]).toEqual(stored);
      expect(await b.get('m1')).toEqual(d);
      expect((await b.get('m2'))?.status).toBe('STARTED');
    } finally {
      listener.disconnect();
    }
  });

  it('json stays the JSON text; a document marked with DOCUMENT_SERIALIZER overrides the default', async () => {
    const b = await backend();
    const marked = doc('j2');
    marked[DOCUMENT_SERIALIZER] = 'msgpack';
    await b.storeMany([doc('j1'), marked]);
    expect(await redis.get('celery-task-meta-j1')).toBe(encodeResult(doc('j1')));
    expect(await redis.getBuffer('celery-task-meta-j2')).toEqual(encodeResultDocument(doc('j2'), 'msgpack'));
    expect(await b.get('j1')).toEqual(doc('j1'));
    expect(await b.get('j2')).toEqual(doc('j2'));
  });

  it.each([['pickle'], ['yaml'], ['xml']])('refuses result_serializer %j when built', (serializer) => {
    expect(
      () => new RedisResultBackend({ url: server.url(1), logger: createLogger({ level: 'silent' }), serializer }),
    ).toThrow(SerializerUnsupportedError);
  });
});

describe('result_accept_content', () => {
  it('waitFor reads json and msgpack documents alike', async () => {
    const reader = await backend({ acceptContent: ['json', 'msgpack'] });
    const jsonWriter = await backend();
    const msgpackWriter = await backend({ serializer: 'msgpack' });
    const a = reader.waitFor('w1', 10_000);
    const c = reader.waitFor('w2', 10_000);
    await until(async () => (await numsub('celery-task-meta-w1')) === 1 && (await numsub('celery-task-meta-w2')) === 1);
    await jsonWriter.store(doc('w1'));
    await msgpackWriter.store(doc('w2'));
    expect(await a).toEqual(doc('w1'));
    expect(await c).toEqual(doc('w2'));
  });

  it('a document in a serializer that is not accepted is refused at once, in get and in waitFor', async () => {
    const reader = await backend({ acceptContent: ['application/json'] });
    const writer = await backend({ serializer: 'msgpack' });
    await writer.store(doc('r1'));
    const refused = await reader.get('r1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ResultContentDisallowedError);
    expect(refused).toMatchObject({ code: 'RESULT_CONTENT_DISALLOWED', taskId: 'r1', serializer: 'msgpack' });
    expect((refused as Error).message).toContain('add "msgpack" to result_accept_content');

    // Stored before the wait (found by the read) and published during it: both fail the wait now.
    const started = Date.now();
    await expect(reader.waitFor('r1', 10_000)).rejects.toThrow(ResultContentDisallowedError);
    const waiting = reader.waitFor('r2', 10_000);
    await until(async () => (await numsub('celery-task-meta-r2')) === 1);
    await writer.store(doc('r2'));
    await expect(waiting).rejects.toMatchObject({ code: 'RESULT_CONTENT_DISALLOWED', taskId: 'r2' });
    expect(Date.now() - started).toBeLessThan(5_000);

    // json is still read by that reader; msgpack-only readers refuse json.
    await backends[0]!.store(doc('r3'));
    expect(await reader.get('r3')).toEqual(doc('r3'));
    const msgpackOnly = await backend({ acceptContent: ['msgpack'] });
    await expect(msgpackOnly.get('r3')).rejects.toMatchObject({ serializer: 'json' });
    expect(await msgpackOnly.get('r1')).toEqual(doc('r1'));
  });
});
