// Delivery on RabbitMQ: kill -9 of a celeriac worker with acks_late gives its unacked messages back
// at once (AMQP returns them on connection close); eta messages do not stall the prefetch window;
// x-max-priority queues are declared as Celery declares them (a Python worker consumes the same queue).
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { type QueueCounts, untilQueueCounts } from '../support/queue-counts.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';

const GET = { timeout: 40_000 };

describe('celeriac worker on RabbitMQ: delivery', { timeout: 180_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let records: Redis;
  const env = () => ({ PYTASKS_RECORD_URL: redis.url(2), INTEROP_RECORD_URL: redis.url(2) });
  const counts = (queue: string, want: QueueCounts, timeoutMs: number) =>
    untilQueueCounts(vhost, queue, want, timeoutMs);

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    records = new Redis(redis.url(2));
  });

  afterAll(async () => {
    records?.disconnect();
    await redis?.stop();
    await vhost?.delete();
  });

  it('kill -9 with acks_late: the unacked messages are ready again at once and run on the next worker', async () => {
    const config = { broker_url: vhost.url(), result_backend: redis.url(1), task_acks_late: true };
    const app = new Celeriac('amqp-kill', config);
    const first = await CeleriacWorkerProcess.start({ config, queues: ['crash'], concurrency: 2, env: env() });
    try {
      const sent = await Promise.all(
        Array.from({ length: 6 }, () => app.sendTask('tasks.record_sleep', [6], {}, { queue: 'crash' })),
      );
      // 2 running, 4 prefetched (qos 2 × 4 = 8): all six delivered to it, none acked.
      await counts('crash', { ready: 0, unacked: 6 }, 20_000);
      await first.kill();
      const killedAt = Date.now();
      await counts('crash', { ready: 6, unacked: 0 }, 10_000);
      // "At once": back well within a second or two, not after a visibility timeout.
      expect(Date.now() - killedAt).toBeLessThan(5_000);
      const second = await CeleriacWorkerProcess.start({ config, queues: ['crash'], concurrency: 8, env: env() });
      try {
        const results = await Promise.all(sent.map((r) => r.get(GET)));
        expect(results).toEqual(Array(6).fill('celeriac'));
        const runs = await records.hmget('interop.runs', ...sent.map((r) => r.id));
        // The two that were running ran twice (at least once), the four prefetched once.
        expect(runs.map(Number).sort()).toEqual([1, 1, 1, 1, 2, 2]);
        await counts('crash', { ready: 0, unacked: 0 }, 15_000);
      } finally {
        await second.stop();
      }
    } finally {
      await first.kill();
      await app.close();
    }
  });

  it('eta messages do not stall the prefetch window (qos raised for each one held)', async () => {
    const config = { broker_url: vhost.url(), result_backend: redis.url(1), worker_prefetch_multiplier: 1 };
    const app = new Celeriac('amqp-eta', config);
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['eta'], concurrency: 1, env: env() });
    try {
      const delayed = await Promise.all(
        Array.from({ length: 3 }, () => app.sendTask('tasks.stamp', [], {}, { queue: 'eta', countdown: 8 })),
      );
      await counts('eta', { ready: 0, unacked: 3 }, 15_000);
      const now = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'eta' });
      expect(await now.get(GET)).toBe(3);
      // With a window of 1 (concurrency 1 × multiplier 1) the add could only run after the eta ones.
      const states = await Promise.all(delayed.map(async (r) => (await r.refresh()).state));
      expect(states).toEqual(['PENDING', 'PENDING', 'PENDING']);
      const stamps = (await Promise.all(delayed.map((r) => r.get(GET)))) as number[];
      expect(stamps).toHaveLength(3);
      await counts('eta', { ready: 0, unacked: 0 }, 15_000);
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('declares x-max-priority as Celery does, and a Python worker consumes the same queue', async () => {
    const config = { broker_url: vhost.url(), result_backend: redis.url(1), task_queue_max_priority: 10 };
    const app = new Celeriac('amqp-prio', config);
    try {
      const r = await app.sendTask('tasks.add', [20, 22], {}, { queue: 'prio', priority: 7 });
      const info = await vhost.queueInfo('prio');
      expect(info?.durable).toBe(true);
      expect(info?.arguments).toMatch(/x-max-priority.*10/);
      const py = await CeleryWorker.start({ config, queues: ['prio'], env: env() });
      try {
        expect(await r.get(GET)).toBe(42);
      } finally {
        await py.stop();
      }
    } finally {
      await app.close();
    }
  });
});
