// The task-event fast path writes what the general one writes: the envelope template gives the
// bytes of encodeEnvelope (but the delivery tag), and the hand-built task events parse to the
// fields, order and values of sendTask's.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { EventBatch, stringJsonInner } from '../src/event-batch.js';
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
});

describe('EventBatch', () => {
  it('gives each list as base64 JSON, past its scratch buffer too, and nothing of a longer list before', () => {
    const batch = new EventBatch();
    const long = 'ü'.repeat(40_000); // 80,000 bytes of UTF-8: more than the 64 KB scratch buffer
    batch.add(`{"a": "${long}"}`);
    batch.next().push('{"n": ', 7, ', "s": "', stringJsonInner('q"\\\u2028\n'), '"}');
    expect(batch.count).toBe(2);
    const first = JSON.parse(Buffer.from(batch.takeBase64(), 'base64').toString('utf8'));
    expect(first).toEqual([{ a: long }, { n: 7, s: 'q"\\\u2028\n' }]);
    expect(batch.count).toBe(0);
    batch.add('{"b": 1}');
    expect(Buffer.from(batch.takeBase64(), 'base64').toString('utf8')).toBe('[{"b": 1}]');
  });
});

describe('task events: fast path against sendTask', () => {
  let redis: RedisServer;
  let sub: Redis;
  const seen: unknown[][] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    sub = new Redis(redis.url());
    sub.on('message', (_channel: string, raw: string) => {
      seen.push(JSON.parse(Buffer.from(JSON.parse(raw).body, 'base64').toString('utf8')));
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
