// The agent with a RabbitMQ broker (`celery.broker_url: amqp://`): its Redis-only duties (restore of a
// dead worker's tasks, the pidbox probe, task events, fleet limits) are skipped and said, never
// failed or silent; celeriac worker names carry the generation, so a rolling restart's old and new
// process do not share one AMQP pidbox queue. The whole fleet under an agent: test/e2e/amqp-fleet.test.ts.
import type { EffectiveConfig } from '@celeriac/config-schema';
import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { FleetLimitsPublisher } from '../src/fleet-limits-publisher.js';
import { buildLaunch, type LaunchContext, OwnerRestorer } from '../src/index.js';
import { isRedisBrokerUrl } from '../src/redis-broker-only.js';
import { WorkerProbe } from '../src/worker-probe.js';

const AMQP = 'amqp://guest:secret@127.0.0.1:5672/fleet';

const ctx: LaunchContext = {
  node: 'a',
  host: 'host',
  stateDir: '/tmp/celeriac-agent-state',
  workDir: '/srv/app',
  celeriacBin: '/srv/celeriac/apps/cli/bin/celeriac.js',
  nodePath: process.execPath,
  pythonPath: '/usr/bin/python3',
};

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

  it('does not probe workers on an AMQP broker (says so once) and adds no probe health to their status', async () => {
    const { logger, lines } = capturingLogger();
    const probe = new WorkerProbe({
      logger,
      targets: () => [
        { program: 'w', name: 'a.w.1.g1@host', brokerUrl: AMQP, kind: 'celeriac-worker' },
        { program: 'py', name: 'a.py.1.g1@host', brokerUrl: AMQP, kind: 'celery-worker' },
      ],
      onChange: () => undefined,
      timeoutMs: 200,
    });
    try {
      await probe.tick();
      await probe.tick();
      expect(events(lines(), 'agent.worker_probe_unavailable')).toMatchObject([{ scheme: 'amqp' }]);
      expect(events(lines(), 'agent.task_events_unavailable')).toEqual([]);
      expect(events(lines(), 'agent.worker_probe_failed')).toEqual([]);
      const statuses = probe.annotate({
        w: { kind: 'celeriac-worker', state: 'running', pids: [1], restarts: 0, config_hash: 'x', last_exit: null },
      });
      expect(statuses.w?.workers).toBeUndefined();
      expect(statuses.w?.responding).toBeUndefined();
    } finally {
      await probe.close();
    }
  });

  it('refuses fleet limits on an AMQP broker with a reason that says why (the document lives on Redis)', async () => {
    const { logger } = capturingLogger();
    const publisher = new FleetLimitsPublisher('a', logger);
    try {
      const out = await publisher.publish(
        config({ broker_url: AMQP, task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } } }),
        2,
      );
      expect(out.changed).toBe(false);
      expect(out.error).toMatch(/fleet limit document lives on a Redis broker/);
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
