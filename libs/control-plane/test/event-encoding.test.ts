// The task-event fast path writes what the general one writes: the envelope template gives the
// bytes of encodeEnvelope (but the delivery tag), or the same envelope with the body as its text and
// no body_encoding, and the hand-built task events parse to the fields, order and values of sendTask's.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { EventBatch, escapeInString, stringJsonInner } from '../src/event-batch.js';
import { EventDispatcher } from '../src/event-dispatcher.js';
import { EnvelopeTemplate, encodeEnvelope } from '../src/kombu-envelope.js';
import { LamportClock } from '../src/lamport-clock.js';
import { capturingLogger } from './helpers.js';

const withoutTag = (envelope: string) => envelope.replace(/"delivery_tag": "[0-9a-f-]{36}"/, '"delivery_tag": "T"');

describe('EnvelopeTemplate', () => {
  it('encodes the bytes encodeEnvelope gives, with a fresh uuid4 delivery tag each time', () => {
    const options = {
      exchange: 'celeryev',
      routingKey: 'task.multi',
      headers: { hostname: 'wörker@host' },
      deliveryMode: 1 as const,
    };
    const body = '[{"uuid": "é-1", "type": "task-started"}]';
    const template = new EnvelopeTemplate(options);
    const a = template.encode(body).toString('utf8');
    const b = template.encode(body).toString('utf8');
    expect(withoutTag(a)).toBe(withoutTag(encodeEnvelope(undefined, { ...options, bodyJson: body })));
    expect(a).not.toBe(b);
    const parsed = JSON.parse(a);
    expect(Buffer.from(parsed.body, 'base64').toString('utf8')).toBe(body);
    expect(parsed.properties.delivery_tag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/);
  });

  it('splices a body escaped for a JSON string in as the body text, without body_encoding', () => {
    const options = {
      exchange: 'celeryev',
      routingKey: 'task.multi',
      headers: { hostname: 'n@h' },
      deliveryMode: 1 as const,
    };
    const body = '[{"uuid": "q\\"1\\u00e9", "type": "task-started"}]';
    const raw = new EnvelopeTemplate(options).encodeInString(escapeInString(body)).toString('utf8');
    const parsed = JSON.parse(raw);
    expect(parsed.body).toBe(body);
    expect(JSON.parse(parsed.body)).toEqual([{ uuid: 'q"1é', type: 'task-started' }]);
    const { body_encoding, ...rest } = JSON.parse(encodeEnvelope(undefined, { ...options, bodyJson: body })).properties;
    expect(body_encoding).toBe('base64');
    expect({ ...parsed.properties, delivery_tag: 'T' }).toEqual({ ...rest, delivery_tag: 'T' });
    expect(Object.keys(parsed)).toEqual(['body', 'content-encoding', 'content-type', 'headers', 'properties']);
    // Text that is not ASCII (not what the dispatcher writes) is still encoded whole.
    const wide = new EnvelopeTemplate(options).encodeInString(escapeInString('[{"s": "é ü"}]')).toString('utf8');
    expect(JSON.parse(JSON.parse(wide).body)).toEqual([{ s: 'é ü' }]);
  });
});

describe('EventBatch', () => {
  it('gives each list as its JSON text, ASCII as Python writes it, and nothing of a longer list before', () => {
    const batch = new EventBatch();
    const long = 'ü'.repeat(40_000);
    batch.add(`{"a": "${stringJsonInner(long)}"}`);
    batch.next('{"n": ', ', {"n": ');
    for (const piece of [7, ', "s": "', stringJsonInner('q"\\\u2028\n\ud83d'), '"}']) batch.put(piece);
    expect(batch.count).toBe(2);
    const text = batch.take();
    expect(text).toMatch(/^[\x20-\x7e]+$/);
    expect(text.slice(0, 20)).toBe('[{"a": "\\u00fc\\u00fc');
    expect(JSON.parse(text)).toEqual([{ a: long }, { n: 7, s: 'q"\\\u2028\n\ud83d' }]);
    expect(batch.count).toBe(0);
    // A shorter list after a longer one: nothing of the longer one is left in it.
    batch.add('{"b": 1}');
    expect(batch.take()).toBe('[{"b": 1}]');
    batch.add('{"c": 2}');
    batch.add('{"d": 3}');
    expect(batch.take()).toBe('[{"c": 2}, {"d": 3}]');
    batch.add('{"e": 4}');
    expect(batch.take()).toBe('[{"e": 4}]');
  });

  it('escapes values once more for a list that stands inside a JSON string', () => {
    const batch = new EventBatch();
    const value = 'q"\\ é\n';
    batch.next(escapeInString('{"s": "'), escapeInString(', {"s": "'));
    batch.put(stringJsonInner(value, true));
    batch.put('\\"}');
    const text = batch.take();
    expect(text).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(JSON.parse(`"${text}"`))).toEqual([{ s: value }]);
    expect(stringJsonInner('plain-id', true)).toBe('plain-id');
  });
});

describe('task events: fast path against sendTask', () => {
  let redis: RedisServer;
  let sub: Redis;
  const seen: unknown[][] = [];
  const encodings: unknown[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    sub = new Redis(redis.url());
    sub.on('message', (_channel: string, raw: string) => {
      const envelope = JSON.parse(raw);
      encodings.push(envelope.properties.body_encoding);
      seen.push(JSON.parse(envelope.body));
    });
    await sub.subscribe('/0.celeryev/task.multi');
  });
  afterAll(async () => {
    sub?.disconnect();
    await redis?.stop();
  });

  it('taskReceived/taskStarted/taskSucceeded give the fields, order and values of sendTask', async () => {
    const events = new EventDispatcher({
      url: redis.url(),
      hostname: 'n@h',
      logger: capturingLogger().logger,
      clock: new LamportClock(10),
      taskEvents: true,
    });
    const received = [
      't"1',
      'tasks.add',
      '(2, 3)',
      "{'x': 'é'}",
      'r-1',
      null,
      2,
      '2026-12-02T00:00:00+00:00',
      null,
    ] as const;
    events.taskReceived(...received);
    events.sendTask('task-received', {
      uuid: received[0],
      name: received[1],
      args: received[2],
      kwargs: received[3],
      root_id: received[4],
      parent_id: received[5],
      retries: received[6],
      eta: received[7],
      expires: received[8],
    });
    events.taskStarted('t"1');
    events.sendTask('task-started', { uuid: 't"1' });
    events.taskSucceeded('t"1', '5', 0.000123456);
    events.sendTask('task-succeeded', { uuid: 't"1', result: '5', runtime: 0.000123456 });
    await events.close();
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const batch = seen[0] as Record<string, unknown>[];
    expect(encodings).toEqual([undefined]);
    expect(batch).toHaveLength(6);
    for (let i = 0; i < 6; i += 2) {
      const [fast, general] = [batch[i] as Record<string, unknown>, batch[i + 1] as Record<string, unknown>];
      expect(Object.keys(fast)).toEqual(Object.keys(general));
      const { clock: c1, timestamp: t1, runtime: r1, ...restFast } = fast;
      const { clock: c2, timestamp: t2, runtime: r2, ...restGeneral } = general;
      expect(restFast).toEqual(restGeneral);
      expect(c2).toBe((c1 as number) + 1);
      expect(Math.abs((t1 as number) - (t2 as number))).toBeLessThan(1);
      if (r1 !== undefined) expect(r1).toBeCloseTo(r2 as number, 6);
    }
    expect(batch[0]).toMatchObject({ uuid: 't"1', kwargs: "{'x': 'é'}", parent_id: null, retries: 2 });
    expect(String((batch[0] as { timestamp: number }).timestamp)).toMatch(/^\d{10}(\.\d{1,3})?$/);
  });
});
