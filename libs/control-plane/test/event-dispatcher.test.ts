import { EventDispatcher, LamportClock, WorkerHeart } from '@celeriac/control-plane';
import { logSchemaViolations } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger, fixture, inspector, until } from './helpers.js';

const HOST = 'celeriac-ev@test';

interface CapturedEvent {
  channel: string;
  envelope: { headers: Record<string, unknown>; properties: Record<string, unknown> } & Record<string, unknown>;
  body_decoded: Record<string, unknown> | Array<Record<string, unknown>>;
}
const captured = fixture<{ 'with_task_events_-E': CapturedEvent[] }>('events_worker_and_task')['with_task_events_-E'];

interface Seen {
  channel: string;
  raw: string;
  envelope: CapturedEvent['envelope'] & { body: string };
  bodyText: string;
  body: unknown;
}

let redis: RedisServer;
let sub: Redis;
const seen: Seen[] = [];
const log = capturingLogger();

beforeAll(async () => {
  redis = await RedisServer.start();
  sub = inspector(redis.url());
  sub.on('pmessage', (_p: string, channel: string, raw: string) => {
    const envelope = JSON.parse(raw);
    // kombu's reading: base64 when body_encoding says so, else the body is the text itself.
    const bodyText =
      envelope.properties.body_encoding === 'base64'
        ? Buffer.from(envelope.body, 'base64').toString('utf8')
        : envelope.body;
    seen.push({ channel, raw, envelope, bodyText, body: JSON.parse(bodyText) });
  });
  await sub.psubscribe('/0.celeryev/*');
});

afterAll(async () => {
  sub?.disconnect();
  await redis?.stop();
});

const on = (channel: string) => seen.filter((s) => s.channel === channel);

describe('EventDispatcher and WorkerHeart on the wire', () => {
  it('sends worker-online, heartbeats every interval and worker-offline shaped like Celery 5.2', async () => {
    const events = new EventDispatcher({ url: redis.url(), hostname: HOST, logger: log.logger });
    let processed = 0;
    const heart = new WorkerHeart({
      events,
      logger: log.logger,
      intervalMs: 200,
      counters: { active: () => 1, processed: () => processed },
    });
    await heart.start();
    processed = 7;
    await until(() => on('/0.celeryev/worker.heartbeat').length >= 2, 5_000);
    await heart.stop();
    await heart.stop();
    await events.close();
    await until(() => on('/0.celeryev/worker.offline').length > 0);

    const online = on('/0.celeryev/worker.online');
    const offline = on('/0.celeryev/worker.offline');
    expect(online).toHaveLength(1);
    expect(offline).toHaveLength(1);
    const pyOnline = captured.find((c) => c.channel === '/0.celeryev/worker.online')!;
    const ours = online[0]!;
    expect(Object.keys(ours.envelope)).toEqual(Object.keys(pyOnline.envelope));
    expect(ours.envelope.headers).toEqual({ hostname: HOST });
    expect({ ...ours.envelope.properties, delivery_tag: 'x' }).toEqual({
      ...pyOnline.envelope.properties,
      delivery_tag: 'x',
    });
    expect(Object.keys(ours.body as object)).toEqual(Object.keys(pyOnline.body_decoded));
    expect(ours.body).toMatchObject({
      hostname: HOST,
      pid: process.pid,
      active: 1,
      processed: 0,
      type: 'worker-online',
    });
    expect(ours.body).toMatchObject({ sw_ident: 'celeriac', sw_sys: 'Linux' });
    // Written as Python writes it: `"freq": 2.0`-style floats and ", " separators.
    expect(ours.bodyText).toMatch(
      /^\{"hostname": "celeriac-ev@test", "utcoffset": -?\d+, "pid": \d+, "clock": \d+, "freq": 0\.2, /,
    );
    expect(ours.bodyText).toMatch(/"loadavg": \[\d+\.\d+, \d+\.\d+, \d+\.\d+\]/);
    const beats = on('/0.celeryev/worker.heartbeat');
    expect((beats.at(-1)!.body as { processed: number }).processed).toBe(7);
    const clocks = [online[0]!, ...beats, offline[0]!].map((s) => (s.body as { clock: number }).clock);
    expect([...clocks].sort((a, b) => a - b)).toEqual(clocks);
    const states = log.lines().filter((l) => l.event === 'control.heart.state');
    expect(states.map((l) => l.to)).toEqual(['beating', 'stopped']);
  });

  it('batches task events into task.multi lists with the fields and order of the captured ones', async () => {
    seen.length = 0;
    const clock = new LamportClock(100);
    const events = new EventDispatcher({
      url: redis.url(),
      hostname: HOST,
      logger: log.logger,
      clock,
      taskEvents: true,
    });
    const pyBatch = captured.find((c) => c.channel === '/0.celeryev/task.multi')!;
    const [pyReceived, pyStarted, pySucceeded] = pyBatch.body_decoded as Array<Record<string, unknown>>;
    events.sendTask('task-received', {
      uuid: 't-1',
      name: 'ctlapp.add',
      args: '(2, 3)',
      kwargs: '{}',
      root_id: 't-1',
      parent_id: null,
      retries: 0,
      eta: null,
      expires: null,
    });
    events.sendTask('task-started', { uuid: 't-1' });
    events.sendTask('task-succeeded', { uuid: 't-1', result: '5', runtime: 0.0003 });
    await events.flush();
    // PUBLISH is acknowledged before the subscriber's connection reads the message.
    await until(() => on('/0.celeryev/task.multi').length > 0);
    const batches = on('/0.celeryev/task.multi');
    expect(batches).toHaveLength(1);
    const batch = batches[0]!;
    // The list goes as the envelope's body text, without Python's body_encoding (base64); the rest as Python's.
    const { body_encoding: pyEncoding, ...pyProperties } = pyBatch.envelope.properties;
    expect(pyEncoding).toBe('base64');
    expect(Object.keys(batch.envelope)).toEqual(Object.keys(pyBatch.envelope));
    expect({ ...batch.envelope.properties, delivery_tag: 'x' }).toEqual({ ...pyProperties, delivery_tag: 'x' });
    expect(batch.envelope.body).toBe(batch.bodyText);
    const [received, started, succeeded] = batch.body as Array<Record<string, unknown>>;
    expect(Object.keys(received!)).toEqual(Object.keys(pyReceived!));
    expect(Object.keys(started!)).toEqual(Object.keys(pyStarted!));
    expect(Object.keys(succeeded!)).toEqual(Object.keys(pySucceeded!));
    expect([received!.clock, started!.clock, succeeded!.clock]).toEqual([101, 102, 103]);

    // A burst costs one PUBLISH per 400 events, all in one round trip.
    seen.length = 0;
    for (let i = 0; i < 1_000; i++) events.sendTask('task-started', { uuid: `b-${i}` });
    await events.flush();
    await until(() => on('/0.celeryev/task.multi').flatMap((s) => s.body as unknown[]).length === 1_000, 5_000);
    expect(on('/0.celeryev/task.multi').map((s) => (s.body as unknown[]).length)).toEqual([400, 400, 200]);

    // Off: task events are dropped, worker events still go out.
    seen.length = 0;
    expect(events.disableTaskEvents()).toBe(true);
    expect(events.disableTaskEvents()).toBe(false);
    expect(events.sendTask('task-started', { uuid: 'off' })).toBe(false);
    await events.send('worker-heartbeat', { freq: 2 });
    await events.close();
    await until(() => seen.length > 0);
    expect(seen.map((s) => s.channel)).toEqual(['/0.celeryev/worker.heartbeat']);
  });

  it('sends a client task-sent alone on task.sent when batching is off', async () => {
    seen.length = 0;
    const events = new EventDispatcher({
      url: redis.url(),
      hostname: 'gen1@client',
      logger: log.logger,
      taskEvents: true,
      batch: false,
    });
    events.sendTask('task-sent', {
      uuid: 's-1',
      root_id: 's-1',
      parent_id: null,
      name: 'ctlapp.add',
      args: '(1, 2)',
      kwargs: '{}',
      retries: 0,
      eta: null,
      expires: null,
      queue: 'celery',
      exchange: '',
      routing_key: 'celery',
    });
    await events.close();
    await until(() => seen.length > 0);
    expect(seen.map((s) => s.channel)).toEqual(['/0.celeryev/task.sent']);
    expect(seen[0]!.body).toMatchObject({ type: 'task-sent', uuid: 's-1', queue: 'celery' });
    for (const line of log.lines()) expect(logSchemaViolations(line)).toEqual([]);
  });
});
