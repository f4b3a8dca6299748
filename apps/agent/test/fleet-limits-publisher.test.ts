import { FLEET_LIMITS_KEY, FleetLimitClient, fleetSlotMember } from '@celeriac/broker';
import { type EffectiveConfig, validateEffectiveConfig } from '@celeriac/config-schema';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { FleetLimitsPublisher } from '../src/fleet-limits-publisher.js';
import { type AgentMetrics, metricsResponse } from '../src/metrics-server.js';

let redis: RedisServer;
let db: Redis;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
});
afterAll(async () => {
  db?.disconnect();
  await redis?.stop();
});

function config(celery: Record<string, unknown>): EffectiveConfig {
  const result = validateEffectiveConfig({
    celery: { broker_url: redis.url(0), ...celery },
    programs: { w: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] } },
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

describe('FleetLimitsPublisher', () => {
  it('writes the fleet limits of a config to the broker, only when they change, and shows them in /metrics', async () => {
    const publisher = new FleetLimitsPublisher('a', logger);
    try {
      // No fleet limits, never published: nothing written, no connection.
      expect(await publisher.publish(config({}), 1)).toEqual({ changed: false, limits: [] });
      expect(await db.exists(FLEET_LIMITS_KEY)).toBe(0);
      const limited = config({
        task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } },
        celeriac_fleet_limits: { queues: { celery: { concurrency: 3 } } },
      });
      const first = await publisher.publish(limited, 2);
      expect(first.changed).toBe(true);
      expect(first.limits.map((l) => l.id)).toEqual(['queue:celery', 'task:tasks.add']);
      const doc = JSON.parse((await db.get(FLEET_LIMITS_KEY)) as string);
      expect(doc).toMatchObject({ version: 1, revision: 2, source: 'agent a' });
      expect((await publisher.publish(limited, 3)).changed).toBe(false);
      // Removed in the center: the document says so (an empty list), it is not left behind.
      const lifted = await publisher.publish(config({}), 4);
      expect(lifted.changed).toBe(true);
      expect(JSON.parse((await db.get(FLEET_LIMITS_KEY)) as string).limits).toEqual([]);
      await publisher.publish(limited, 5);

      // Workers take tokens and a slot; the snapshot (read every second) feeds /metrics.
      const worker = new FleetLimitClient({ url: redis.url(0), logger });
      await worker.start();
      const [queue, task] = first.limits as [
        NonNullable<(typeof first.limits)[0]>,
        NonNullable<(typeof first.limits)[0]>,
      ];
      await worker.take(task, null, 3);
      await worker.acquire(queue, null, [fleetSlotMember('w1@h:9', 't1', 'tag1')]);
      await worker.report('w1@h:9', { 'task:tasks.add': { waiting: 7, running: 0 } });
      let body = '';
      const deadline = Date.now() + 5_000;
      while (!/celeriac_fleet_limit_slots_held\{limit="queue:celery"\} 1/.test(body) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        const m = { fleetLimits: publisher.snapshot() } as Partial<AgentMetrics> as AgentMetrics;
        body = metricsResponse('/metrics', { ...emptyMetrics(), ...m }).body;
      }
      expect(body).toMatch(/celeriac_fleet_limit_rate\{limit="task:tasks.add"\} 20/);
      expect(body).toMatch(/celeriac_fleet_limit_concurrency\{limit="queue:celery"\} 3/);
      expect(body).toMatch(/celeriac_fleet_limit_granted_total\{limit="task:tasks.add"\} 3/);
      expect(body).toMatch(/celeriac_fleet_limit_waiting\{limit="task:tasks.add"\} 7/);
      expect(body).toMatch(/celeriac_fleet_limit_slots_held\{limit="queue:celery"\} 1/);
      expect(body).toMatch(/celeriac_fleet_limit_tokens\{limit="task:tasks.add"\} [\d.]+/);

      // The worker dies: its slot returns at once.
      expect(await publisher.releaseOwner(redis.url(0), 'w1@h:9')).toBe(1);
      expect(await db.zcard('celeriac.fleet.slots.queue:celery')).toBe(0);
      await worker.close();
    } finally {
      await publisher.close();
    }
  });

  it('reports a broker it cannot write to as an error for the apply', async () => {
    const publisher = new FleetLimitsPublisher('a', logger);
    try {
      const bad = config({ task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } } });
      const unreachable = { ...bad, celery: { ...bad.celery, broker_url: 'redis://127.0.0.1:1/0' } };
      const result = await publisher.publish(unreachable as EffectiveConfig, 9);
      expect(result.changed).toBe(false);
      expect(result.error).toMatch(/fleet limits not written/);
    } finally {
      await publisher.close();
    }
  });
});

function emptyMetrics(): AgentMetrics {
  return {
    state: 'running',
    centerReachable: true,
    appliedRevision: 1,
    applies: {},
    programs: {},
    ownerRestores: 0,
    tasksRestored: 0,
  };
}
