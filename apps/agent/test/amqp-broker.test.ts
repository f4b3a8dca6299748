// The agent with a RabbitMQ broker (`celery.broker_url: amqp://`): it probes workers over the AMQP
// pidbox, counts Python task events from the celeryev topic exchange and publishes fleet limits to
// the result backend's Redis (where workers on RabbitMQ read them); what still needs Redis (restore
// of a dead worker's tasks: RabbitMQ requeues them itself) is skipped and said, never failed or
// silent; celeriac worker names carry the generation, so a rolling restart's old and new process do
// not share one AMQP pidbox queue. The whole fleet under an agent: test/e2e/amqp-fleet.test.ts.
import { FLEET_LIMITS_KEY, type FleetLimit, FleetLimitClient, fleetSlotMember } from '@celeriac/broker';
import { AmqpControlConnection, AmqpEventTransport, AmqpPidboxNode } from '@celeriac/broker-amqp';
import type { EffectiveConfig } from '@celeriac/config-schema';
import { ControlServer, RevokedSet } from '@celeriac/control-plane';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget, until } from '../../../libs/control-plane/test/helpers.js';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { FleetLimitsPublisher } from '../src/fleet-limits-publisher.js';
import { buildLaunch, OwnerRestorer } from '../src/index.js';
import { isRedisBrokerUrl } from '../src/redis-broker-only.js';
import { WorkerProbe } from '../src/worker-probe.js';
import { TEST_LAUNCH_CONTEXT } from './support/launch-context.js';

const OURS = 'a.w.1.g1@host';

let vhost: RabbitVhost;
let redis: RedisServer;
/** The revoked set's connection (db 0) and the result backend's (db 1). */
let commands: Redis;
let results: Redis;

beforeAll(async () => {
  [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
  commands = new Redis(redis.url(0));
  results = new Redis(redis.url(1));
}, 60_000);

afterAll(async () => {
  commands?.disconnect();
  results?.disconnect();
  await redis?.stop();
  await vhost?.delete();
}, 60_000);

const AMQP = 'amqp://guest:secret@127.0.0.1:5672/fleet';

const ctx = TEST_LAUNCH_CONTEXT;

function config(celery: Record<string, unknown>): EffectiveConfig {
  return {
    celery,
    programs: {
      w: {
        kind: 'celeriac-worker',
        app: './tasks.mjs',
        queues: ['celery'],
        replicas: 1,
        concurrency: 2,
        stop_timeout: '30s',
        ready_timeout: '30s',
      },
    },
  };
}

const events = (lines: Record<string, unknown>[], event: string) => lines.filter((l) => l.event === event);

describe('the agent on a RabbitMQ broker', () => {
  it('tells Redis broker URLs from the others by their (first) scheme', () => {
    for (const url of ['redis://h:6379/0', 'rediss://h/1', 'sentinel://h1:26379;sentinel://h2:26379', 'unix:///s'])
      expect(isRedisBrokerUrl(url), url).toBe(true);
    for (const url of [AMQP, 'amqps://h/v', 'pyamqp://h//', ' amqp://h1;amqp://h2', 'sqs://'])
      expect(isRedisBrokerUrl(url), url).toBe(false);
  });

  it('restores nothing for a dead worker (RabbitMQ requeues on close) and says so once, without the password', async () => {
    const { logger, lines, text } = capturingLogger();
    const restorer = new OwnerRestorer(logger);
    try {
      expect(await restorer.restore(AMQP, 'a.w.1.g1@host:123')).toBe(0);
      expect(await restorer.restore(AMQP, 'a.w.1.g2@host:124')).toBe(0);
      expect(events(lines(), 'agent.restore_not_needed')).toMatchObject([{ level: 30, scheme: 'amqp' }]);
      expect(events(lines(), 'agent.restore_failed')).toEqual([]);
      expect(restorer.restores).toBe(0);
      expect(text()).not.toContain('secret');
    } finally {
      await restorer.close();
    }
  });

  it('probes workers over the AMQP pidbox: the one answering with its active/reserved counts, the silent one not responding', async () => {
    const { logger, lines } = capturingLogger();
    const target = new FakeTarget(OURS);
    target.activeList = [];
    target.reservedList = [
      {
        id: 't1',
        name: 'tasks.add',
        args: [1, 2],
        kwargs: {},
        timeStart: null,
        acknowledged: false,
        deliveryInfo: { exchange: '', routingKey: 'celery', priority: 0, redelivered: false },
        workerPid: null,
      },
    ];
    const connection = new AmqpControlConnection({ url: vhost.url(), logger });
    const server = new ControlServer({
      url: vhost.url(),
      target,
      revoked: new RevokedSet({ redis: commands, logger, syncIntervalMs: 0 }),
      logger,
      transport: new AmqpPidboxNode({ connection, logger }),
    });
    await server.start();
    let changes = 0;
    const probe = new WorkerProbe({
      logger,
      targets: () => [
        { program: 'w', name: OURS, brokerUrl: vhost.url(), kind: 'celeriac-worker' },
        { program: 'w', name: 'a.w.2.g1@host', brokerUrl: vhost.url(), kind: 'celeriac-worker' },
      ],
      onChange: () => changes++,
      timeoutMs: 500,
    });
    try {
      await probe.tick();
      await probe.tick();
      const statuses = probe.annotate({
        w: { kind: 'celeriac-worker', state: 'running', pids: [1], restarts: 0, config_hash: 'x', last_exit: null },
      });
      expect(statuses.w?.workers?.[OURS]).toMatchObject({ responding: true, active: 0, reserved: 1 });
      expect(statuses.w?.workers?.['a.w.2.g1@host']).toMatchObject({ responding: false, last_reply_at: null });
      expect(statuses.w?.responding).toBe(false);
      expect(changes).toBe(1);
      expect(events(lines(), 'agent.worker_unresponsive')).toMatchObject([{ worker: 'a.w.2.g1@host' }]);
      expect(events(lines(), 'agent.worker_probe_unavailable')).toEqual([]);
      expect(events(lines(), 'agent.worker_probe_failed')).toEqual([]);
    } finally {
      await probe.close();
      await server.close();
      await connection.close();
    }
  });

  it('counts the task events of a Python worker on RabbitMQ from the celeryev topic exchange', async () => {
    const { logger, lines } = capturingLogger();
    const py = 'a.py.1.g1@host';
    const probe = new WorkerProbe({
      logger,
      targets: () => [{ program: 'py', name: py, brokerUrl: vhost.url(), kind: 'celery-worker' }],
      onChange: () => undefined,
      timeoutMs: 200,
    });
    const connection = new AmqpControlConnection({ url: vhost.url(), logger });
    const sender = new AmqpEventTransport({ connection, ownsConnection: true });
    const now = Date.now() / 1000;
    const task = (type: string, uuid: string, extra: Record<string, unknown> = {}) => ({
      type,
      uuid,
      hostname: py,
      timestamp: now,
      ...extra,
    });
    const body = (e: unknown) => JSON.stringify(e);
    try {
      await probe.tick(); // subscribes
      // A batch (`task.multi`, a list) and single events, as a Python worker's dispatcher sends them.
      await sender.publish(
        'celeryev',
        [
          {
            routingKey: 'task.multi',
            body: body([
              task('task-received', 'u1', { name: 'py.mul' }),
              task('task-started', 'u1'),
              task('task-succeeded', 'u1', { runtime: 0.2 }),
            ]),
          },
          { routingKey: 'task.received', body: body(task('task-received', 'u2', { name: 'py.mul' })) },
          { routingKey: 'task.failed', body: body(task('task-failed', 'u2')) },
          // Another host's events are not this program's.
          { routingKey: 'task.received', body: body({ ...task('task-received', 'u3'), hostname: 'x@y' }) },
        ],
        { hostname: py },
      );
      const health = await until(
        async () => {
          await probe.tick();
          const h = probe.annotate({
            py: { kind: 'celery-worker', state: 'running', pids: [1], restarts: 0, config_hash: 'x', last_exit: null },
          }).py?.health;
          return h?.counts.succeeded === 1 && h.counts.failed === 1 ? h : undefined;
        },
        10_000,
        100,
      );
      expect(health?.source).toBe('task_events');
      expect(health?.outcomes).toBeUndefined();
      expect(events(lines(), 'agent.task_events_unavailable')).toEqual([]);
    } finally {
      await sender.close();
      await probe.close();
    }
  });

  it('publishes fleet limits to the result backend Redis on RabbitMQ, where the workers read them', async () => {
    const { logger, lines, text } = capturingLogger();
    const publisher = new FleetLimitsPublisher('a', logger);
    try {
      const limited = config({
        broker_url: vhost.url(),
        result_backend: redis.url(1),
        task_annotations: { 'tasks.add': { fleet_concurrency: 2 } },
      });
      const out = await publisher.publish(limited, 2);
      expect(out).toMatchObject({ changed: true });
      expect(out.error).toBeUndefined();
      const doc = JSON.parse((await results.get(FLEET_LIMITS_KEY)) as string);
      expect(doc).toMatchObject({ revision: 2, limits: [{ id: 'task:tasks.add', concurrency: 2 }] });
      expect(events(lines(), 'agent.fleet_limits_published')).toMatchObject([{ role: 'result backend' }]);
      // A dead worker on that broker gives its slots back at once, in the result backend's Redis.
      const worker = new FleetLimitClient({ url: redis.url(1), logger });
      await worker.start();
      await worker.acquire(out.limits[0] as FleetLimit, null, [fleetSlotMember('a.w.1.g1@host:1', 't1', 'tag1')]);
      await worker.close();
      expect(await publisher.releaseOwner(redis.url(1), 'a.w.1.g1@host:1')).toBe(0); // not a broker of its programs
      expect(await publisher.releaseOwner(vhost.url(), 'a.w.1.g1@host:1')).toBe(1);
      expect(await results.zcard('celeriac.fleet.slots.task:tasks.add')).toBe(0);
      expect(text()).not.toContain('guest:guest@');
    } finally {
      await publisher.close();
    }
  });

  it('refuses fleet limits on RabbitMQ without a result backend, saying they cannot be shared and why', async () => {
    const { logger } = capturingLogger();
    const publisher = new FleetLimitsPublisher('a', logger);
    try {
      const out = await publisher.publish(
        config({ broker_url: AMQP, task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } } }),
        2,
      );
      expect(out.changed).toBe(false);
      expect(out.error).toMatch(/no result_backend: .*share fleet limits through the result backend's Redis/);
      expect(out.error).not.toContain('secret');
      expect(await publisher.releaseOwner(AMQP, 'a.w.1.g1@host:1')).toBe(0);
    } finally {
      await publisher.close();
    }
  });

  it('names celeriac workers with their generation on AMQP, as Celery workers are; unchanged on Redis', () => {
    const name = (celery: Record<string, unknown>, generation: number) => {
      const c = config(celery);
      const launch = buildLaunch('w', c.programs.w as EffectiveConfig['programs'][string], 1, c, ctx, generation);
      return { name: launch.workerName, n: launch.args[launch.args.indexOf('-n') + 1] };
    };
    expect(name({ broker_url: AMQP }, 3)).toEqual({ name: 'a.w.1.g3@host', n: 'a.w.1.g3@host' });
    expect(name({ broker_url: 'redis://h:6379/0' }, 3)).toEqual({ name: 'a.w.1@host', n: 'a.w.1@host' });
    expect(name({}, 3)).toEqual({ name: 'a.w.1@host', n: 'a.w.1@host' });
  });
});
