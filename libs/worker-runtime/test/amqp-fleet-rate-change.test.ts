// Fleet rate limits on RabbitMQ follow a live change for the jobs already waiting. RabbitMQ's delay
// levels cannot give a message a new due time, so a job waiting for a fleet limit is not moved
// there (it would come back at the old rate's spacing): it stays held, and a raise from 5/s to 50/s
// runs the backlog at the new rate at once. Limits live in the result backend's Redis.
import { FleetLimitClient, fleetLimitsFromSettings } from '@celeriac/broker';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Worker } from '../src/index.js';
import { LogCapture, waitFor } from './support.js';

describe('fleet rate limits on RabbitMQ', { timeout: 60_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
  });
  afterAll(async () => {
    await vhost?.delete();
    await redis?.stop();
  });

  it('a raise from 5/s to 50/s applies to the waiting backlog at once (nothing parked in the delay levels)', async () => {
    const settings = {
      broker_url: vhost.url(),
      result_backend: redis.url(1),
      task_annotations: { 'tasks.add': { fleet_rate_limit: '5/s' } },
      // Deferral on: a far eta would go to the delay levels, fleet waits must not.
      celeriac_eta_horizon: 1,
    };
    const runs: number[] = [];
    const app = new Celeriac('amqp-fleet-rate', settings, { logger: createLogger({ level: 'silent' }) });
    app.task(
      'tasks.add',
      (a: number, b: number) => {
        runs.push(Date.now());
        return a + b;
      },
      { params: ['a', 'b'] },
    );
    const log = new LogCapture();
    const worker = new Worker({
      app,
      queues: ['celery'],
      concurrency: 8,
      hostname: 'fleet-amqp@host',
      logger: log.logger,
    });
    await worker.start();
    try {
      const task = app.tasks.get('tasks.add');
      await task?.applyMany(Array.from({ length: 150 }, (_, i) => [i, 1]));
      await waitFor(() => (runs.length >= 10 ? true : undefined), 20_000);
      // 150 at 5/s would take 30 s; at 50/s what is left takes under 3 s.
      const writer = new FleetLimitClient({ url: redis.url(1), logger: new LogCapture().logger });
      await writer.start();
      const changedAt = Date.now();
      await writer.writeDocument({
        version: 1,
        revision: 2,
        source: 'test',
        limits: fleetLimitsFromSettings({ task_annotations: { 'tasks.add': { fleet_rate_limit: '50/s' } } }),
      });
      await writer.close();
      await waitFor(() => (runs.length === 150 ? true : undefined), 20_000);
      const tookMs = (runs.at(-1) as number) - changedAt;
      const left = runs.filter((at) => at > changedAt).length;
      console.log(`fleet 5/s → 50/s on RabbitMQ: the last ${left} runs took ${tookMs} ms after the change`);
      // At 50/s: left / 50 s, plus loading the document (< 1 s) and slack for a loaded machine.
      expect(tookMs).toBeLessThan((left / 50) * 1000 + 4_000);
      expect(log.events('worker.eta_deferred')).toEqual([]);
    } finally {
      await worker.close();
      await app.close();
    }
  });
});
