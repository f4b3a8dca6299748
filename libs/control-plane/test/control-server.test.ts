import {
  ControlClient,
  ControlServer,
  ControlUnavailableError,
  EventDispatcher,
  LamportClock,
  RevokedSet,
  revokedKey,
  WorkerHeart,
} from '@celeriac/control-plane';
import { logSchemaViolations } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger, FakeTarget, fixture, inspector, request, until } from './helpers.js';

const HOST = 'celeriac-srv@test';
const SEP = '\x06\x16';
/** Broadcast to our node only: the collection ends at its reply. */
const ONE = { destination: [HOST] };

interface Captured {
  raw: string;
  envelope: Record<string, unknown> & { headers: Record<string, unknown>; properties: Record<string, unknown> };
  body_bytes_utf8: string;
  body_decoded: Record<string, unknown>;
  list_key?: string;
}
const pidbox = fixture<{ broadcast_requests_in_order: Captured[]; worker_replies_in_order: Captured[] }>(
  'remote_control_pidbox',
);

let redis: RedisServer;
let r: Redis;
let commands: Redis;
let server: ControlServer;
let client: ControlClient;
let revoked: RevokedSet;
let events: EventDispatcher;
let heart: WorkerHeart;
const target = new FakeTarget(HOST);
const log = capturingLogger();

/** Binds a reply queue for `oid` as a kombu client does, publishes `raw` on the pidbox channel, pops one reply. */
async function requestRaw(raw: string, oid: string, waitS = 2): Promise<string | null> {
  const queue = `${oid}.reply.celery.pidbox`;
  await r.sadd('_kombu.binding.reply.celery.pidbox', `${oid}${SEP}${SEP}${queue}`);
  await r.publish('/0.celery.pidbox', raw);
  const popped = await r.brpop(queue, waitS);
  await r.srem('_kombu.binding.reply.celery.pidbox', `${oid}${SEP}${SEP}${queue}`);
  return popped?.[1] ?? null;
}

/** A raw request like the fixture's, for `method`, to our node or to `destination`. */
function rawRequest(method: string, args: Record<string, unknown>, oid: string | null, destination?: string[]) {
  const body: Record<string, unknown> = {
    method,
    arguments: args,
    destination: destination ?? null,
    pattern: null,
    matcher: null,
  };
  if (oid) {
    body.ticket = `ticket-${method}`;
    body.reply_to = { exchange: 'reply.celery.pidbox', routing_key: oid };
  }
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(body)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { clock: 1, expires: Date.now() / 1000 + 5 },
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: 'celery.pidbox', routing_key: '' },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: 'tag',
    },
  });
}

beforeAll(async () => {
  redis = await RedisServer.start();
  r = inspector(redis.url());
  // The RevokedSet's own connection: the test BRPOPs on `r`.
  commands = inspector(redis.url());
  const clock = new LamportClock();
  revoked = new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 });
  await revoked.start();
  events = new EventDispatcher({ url: redis.url(), hostname: HOST, logger: log.logger, clock });
  heart = new WorkerHeart({ events, logger: log.logger, counters: { active: () => 0, processed: () => 0 } });
  await heart.start();
  target.activeList = [request('a1', 'ctlapp.sleep', [5], true)];
  server = new ControlServer({
    url: redis.url(),
    target,
    revoked,
    logger: log.logger,
    clock,
    events,
    heart,
    commandTimeoutMs: 500,
  });
  await server.start();
  client = new ControlClient({ url: redis.url(), logger: log.logger });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await heart?.stop();
  await events?.close();
  revoked?.close();
  r?.disconnect();
  commands?.disconnect();
  await redis?.stop();
});

describe('ControlServer on the wire', () => {
  it('binds like a Celery worker: the pidbox binding member and PSUBSCRIBE on /0.celery.pidbox', async () => {
    expect(await r.smembers('_kombu.binding.celery.pidbox')).toEqual([`${SEP}${SEP}${HOST}.celery.pidbox`]);
    expect(await r.call('PUBSUB', 'NUMPAT')).toBe(1);
    expect(server.state).toBe('listening');
  });

  it('answers the captured Python ping request with a reply shaped like the captured one', async () => {
    const ping = pidbox.broadcast_requests_in_order.find((q) => q.body_decoded.method === 'ping')!;
    const captured = pidbox.worker_replies_in_order[0]!;
    const oid = (ping.body_decoded.reply_to as { routing_key: string }).routing_key;
    const raw = await requestRaw(ping.raw, oid);
    expect(raw).not.toBeNull();
    const envelope = JSON.parse(raw!);
    // Same keys in the same order, same header names, same properties but the tag.
    expect(Object.keys(envelope)).toEqual(Object.keys(captured.envelope));
    expect(Object.keys(envelope.headers)).toEqual(['ticket', 'clock']);
    expect(envelope.headers.ticket).toBe(ping.body_decoded.ticket);
    expect(typeof envelope.headers.clock).toBe('number');
    expect({ ...envelope.properties, delivery_tag: 'x' }).toEqual({
      ...captured.envelope.properties,
      delivery_tag: 'x',
    });
    expect(envelope['content-type']).toBe('application/json');
    // The body is byte for byte Python's, with our node name.
    expect(Buffer.from(envelope.body, 'base64').toString('utf8')).toBe(
      captured.body_bytes_utf8.replace('w2@wire', HOST),
    );
    // And the envelope text is spaced like json.dumps.
    expect(raw).toMatch(/^\{"body": "[^"]+", "content-encoding": "utf-8", "content-type": "application\/json", /);
  });

  it('shapes inspect active exactly like the captured Python reply', async () => {
    const captured = pidbox.worker_replies_in_order[2]!;
    const info = (captured.body_decoded['w2@wire'] as Array<Record<string, unknown>>)[0]!;
    target.activeList = [
      {
        ...request(info.id as string, info.name as string, info.args as unknown[], true),
        timeStart: info.time_start as number,
        workerPid: info.worker_pid as number,
        acknowledged: false,
      },
    ];
    const raw = await requestRaw(rawRequest('active', {}, 'oid-active'), 'oid-active');
    const body = Buffer.from(JSON.parse(raw!).body, 'base64').toString('utf8');
    expect(body).toBe(captured.body_bytes_utf8.replaceAll('w2@wire', HOST));
  });

  it('ignores a request for another destination and honours its own name and glob patterns', async () => {
    expect(await requestRaw(rawRequest('ping', {}, 'oid-d1', ['nobody@nowhere']), 'oid-d1', 0.5)).toBeNull();
    const mine = await requestRaw(rawRequest('ping', {}, 'oid-d2', [HOST, 'nobody@nowhere']), 'oid-d2');
    expect(JSON.parse(Buffer.from(JSON.parse(mine!).body, 'base64').toString())).toEqual({ [HOST]: { ok: 'pong' } });
    expect(await client.ping({ pattern: 'celeriac-*', matcher: 'glob', timeoutMs: 300 })).toEqual({
      [HOST]: { ok: 'pong' },
    });
    expect(await client.ping({ pattern: 'python-*', matcher: 'glob', timeoutMs: 300 })).toEqual({});
  });

  it('runs a cast (no reply_to) without replying', async () => {
    const before = target.calls.length;
    await r.publish('/0.celery.pidbox', rawRequest('rate_limit', { task_name: 'ctlapp.add', rate_limit: '5/s' }, null));
    await until(() => target.calls.length > before);
    expect(target.calls.at(-1)).toEqual(['rateLimit', 'ctlapp.add', '5/s']);
    expect(await r.keys('*reply.celery.pidbox')).toEqual([]);
  });

  it('replies to an unknown command with Celery error reply, not silence', async () => {
    const replies = await client.broadcast('no_such_command', {}, { timeoutMs: 500 });
    expect(replies).toEqual([{ [HOST]: { error: "KeyError('no_such_command')" } }]);
    expect(log.lines().some((l) => l.event === 'control.unknown_command')).toBe(true);
  });

  it('answers msgpack requests in msgpack', async () => {
    const msgpackClient = new ControlClient({ url: redis.url(), logger: log.logger, serializer: 'msgpack' });
    try {
      expect(await msgpackClient.ping({ timeoutMs: 300 })).toEqual({ [HOST]: { ok: 'pong' } });
    } finally {
      await msgpackClient.close();
    }
  });

  it('serves the ControlClient: inspect, rate_limit, time_limit, queues, events, revoke with terminate', async () => {
    expect(await client.inspect('registered', {}, ONE)).toEqual({
      [HOST]: ['ctlapp.add', 'ctlapp.mul [rate_limit=10/m]'],
    });
    expect(await client.rateLimit('ctlapp.add', '10/m', ONE)).toEqual([
      { [HOST]: { ok: 'new rate limit set successfully' } },
    ]);
    expect(await client.rateLimit('ctlapp.add', '10/x', ONE)).toEqual([{ [HOST]: { error: "KeyError('x')" } }]);
    expect(await client.rateLimit('ctlapp.nope', '1/s', ONE)).toEqual([{ [HOST]: { error: 'unknown task' } }]);
    expect(await client.timeLimit('ctlapp.add', 10, 20, ONE)).toEqual([
      { [HOST]: { ok: 'time limits set successfully' } },
    ]);
    expect(target.calls).toContainEqual(['timeLimit', 'ctlapp.add', 10, 20]);
    expect(await client.addConsumer('q2', ONE)).toEqual([{ [HOST]: { ok: 'add consumer q2' } }]);
    expect(((await client.inspect('active_queues', {}, ONE))[HOST] as unknown[]).length).toBe(2);
    expect(await client.cancelConsumer('q2', ONE)).toEqual([{ [HOST]: { ok: 'no longer consuming from q2' } }]);
    expect(await client.broadcast('enable_events', {}, ONE)).toEqual([{ [HOST]: { ok: 'task events enabled' } }]);
    expect(events.taskEventsEnabled).toBe(true);
    expect(await client.broadcast('disable_events', {}, ONE)).toEqual([{ [HOST]: { ok: 'task events disabled' } }]);

    target.activeList = [request('run-1', 'ctlapp.sleep', [5], true)];
    expect(await client.revoke(['run-1', 'wait-1'], { terminate: true, signal: 'KILL', reply: true, ...ONE })).toEqual([
      { [HOST]: { ok: 'terminate: run-1' } },
    ]);
    expect(target.calls).toContainEqual(['revoke', ['run-1', 'wait-1'], { terminate: true, signal: 'SIGKILL' }]);
    expect(revoked.has('run-1') && revoked.has('wait-1')).toBe(true);
    expect(await r.zscore(revokedKey(), 'wait-1')).not.toBeNull();
    expect((await client.inspect('revoked', {}, ONE))[HOST]).toEqual(['run-1', 'wait-1']);
  });

  it('reads flags with Python truthiness, as Celery does: Flower sends revoke terminate=1', async () => {
    target.activeList = [request('run-2', 'ctlapp.sleep', [5], true)];
    // Flower's POST /api/task/revoke/<id>?terminate=true broadcasts `strtobool`'s 1, not true.
    expect(await client.broadcast('revoke', { task_id: 'run-2', terminate: 1, signal: 'SIGTERM' }, ONE)).toEqual([
      { [HOST]: { ok: 'terminate: run-2' } },
    ]);
    expect(target.calls).toContainEqual(['revoke', ['run-2'], { terminate: true, signal: 'SIGTERM' }]);
    expect(await client.broadcast('revoke', { task_id: 'run-2', terminate: 0 }, ONE)).toEqual([
      { [HOST]: { ok: 'tasks run-2 flagged as revoked' } },
    ]);
    expect(target.calls).toContainEqual(['revoke', ['run-2'], { terminate: false, signal: 'SIGTERM' }]);
    expect((await client.inspect('conf', { with_defaults: 1 }, ONE))[HOST]).toMatchObject({ with_defaults: true });
    expect((await client.inspect('conf', { with_defaults: '' }, ONE))[HOST]).toMatchObject({ with_defaults: false });
  });

  it('answers a mingle hello from another node with float timestamps Python accepts, and merges its ids', async () => {
    // Mingle times are on the sender's monotonic clock (seconds since boot on Linux, shared by the
    // processes of one host): one revoked 1.5 s ago is kept, one older than the 3 h expiry is not.
    const mono = Number(process.hrtime.bigint()) / 1e9;
    const sent = { 'from-py': [mono - 1.5, 'from-py'], 'too-old': [mono - 10_801, 'too-old'] };
    const raw = await requestRaw(
      rawRequest('hello', { from_node: 'py@elsewhere', revoked: sent }, 'oid-hello'),
      'oid-hello',
    );
    const text = Buffer.from(JSON.parse(raw!).body, 'base64').toString('utf8');
    const reply = JSON.parse(text)[HOST];
    expect(Object.keys(reply)).toEqual(['revoked', 'clock']);
    expect(reply.revoked['wait-1'][1]).toBe('wait-1');
    // Python's LimitedSet.update() rejects an int timestamp: every one must be written as a float.
    expect(text).toMatch(/"wait-1": \[\d+\.\d+(e[+-]\d+)?, "wait-1"\]/);
    expect(revoked.has('from-py')).toBe(true);
    expect(revoked.has('too-old')).toBe(false);
    // A hello from ourselves gets null, as in Celery.
    const self = await requestRaw(rawRequest('hello', { from_node: HOST }, 'oid-hello2'), 'oid-hello2');
    expect(JSON.parse(Buffer.from(JSON.parse(self!).body, 'base64').toString())).toEqual({ [HOST]: null });
  });

  it('sends a heartbeat at once on the `heartbeat` command (what event receivers send on start)', async () => {
    const sub = inspector(redis.url());
    const beats: string[] = [];
    sub.on('message', (_c: string, raw: string) => beats.push(raw));
    await sub.subscribe('/0.celeryev/worker.heartbeat');
    try {
      expect(await client.broadcast('heartbeat', {}, ONE)).toEqual([{ [HOST]: null }]);
      await until(() => beats.length > 0, 1_500);
    } finally {
      sub.disconnect();
    }
  });

  it('abandons a command that overruns its deadline, visibly, and keeps answering', async () => {
    target.reportDelayMs = 3_000;
    try {
      expect(await client.inspect('report', {}, { ...ONE, timeoutMs: 2_000 })).toEqual({
        [HOST]: { error: "TimeoutError('report did not finish within 500 ms')" },
      });
      expect(await client.ping(ONE)).toEqual({ [HOST]: { ok: 'pong' } });
      expect(log.lines().some((l) => l.event === 'control.command_timeout')).toBe(true);
    } finally {
      target.reportDelayMs = 0;
    }
  });

  it('fails to start with CONTROL_UNAVAILABLE when Redis is unreachable', async () => {
    const url = `redis://127.0.0.1:${await freePort()}/0`;
    const dead = new ControlServer({ url, target: new FakeTarget('dead@test'), revoked, logger: log.logger });
    const err = await dead.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ControlUnavailableError);
    expect((err as ControlUnavailableError).code).toBe('CONTROL_UNAVAILABLE');
    expect(dead.state).toBe('failed');
  });

  it('unbinds on close like a warm shutdown and logs every line in the schema', async () => {
    const second = new ControlServer({
      url: redis.url(),
      target: new FakeTarget('second@test'),
      revoked,
      logger: log.logger,
    });
    await second.start();
    expect(await r.sismember('_kombu.binding.celery.pidbox', `${SEP}${SEP}second@test.celery.pidbox`)).toBe(1);
    await second.close();
    await second.close();
    expect(await r.sismember('_kombu.binding.celery.pidbox', `${SEP}${SEP}second@test.celery.pidbox`)).toBe(0);
    expect(second.state).toBe('stopped');
    const states = log.lines().filter((l) => l.event === 'control.server.state' && l.node === 'second@test');
    expect(states.map((l) => l.to)).toEqual(['starting', 'listening', 'stopping', 'stopped']);
    for (const line of log.lines()) expect(logSchemaViolations(line)).toEqual([]);
  });

  it('binds again and answers after Redis restarts empty', async () => {
    await redis.kill();
    await redis.restart();
    await until(
      async () =>
        (await commands
          .sismember('_kombu.binding.celery.pidbox', `${SEP}${SEP}${HOST}.celery.pidbox`)
          .catch(() => 0)) === 1,
      10_000,
      100,
    );
    await until(
      async () => JSON.stringify(await client.ping({ ...ONE, timeoutMs: 500 }).catch(() => ({}))).includes('pong'),
      10_000,
      100,
    );
  });
});
