// A celeriac worker on a RabbitMQ quorum queue (per-consumer qos, which no raise reaches) with a
// window of 2 receives more countdown tasks than that (from the TS client and Python Celery's),
// then normal ones: the normal ones run at once, the countdown ones at their eta, each once.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { untilQueueCounts } from '../support/queue-counts.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';

const COUNTDOWN_S = 30;

describe('celeriac worker on a quorum queue: eta messages do not fill the window', { timeout: 180_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let records: Redis;
  const env = () => ({ PYTASKS_RECORD_URL: redis.url(2), INTEROP_RECORD_URL: redis.url(2) });

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    records = new Redis(redis.url(2));
  });

  afterAll(async () => {
    records?.disconnect();
    await redis?.stop();
    await vhost?.delete();
  });

  it('-c 2, 6 countdown tasks held, then normal tasks: these run promptly, the held ones at their eta, once each', async () => {
    const config = {
      broker_url: vhost.url(),
      result_backend: redis.url(1),
      worker_prefetch_multiplier: 1,
      task_default_queue: 'qeta',
      task_queues: { qeta: { queue_arguments: { 'x-queue-type': 'quorum' } } },
    };
    const app = new Celeriac('amqp-quorum-eta', config);
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['qeta'], concurrency: 2, env: env() });
    try {
      expect((await vhost.queueInfo('qeta'))?.arguments).toMatch(/quorum/);
      const sentAt = Date.now();
      const stamped = await Promise.all(
        Array.from({ length: 3 }, () => app.sendTask('tasks.stamp', [], {}, { countdown: COUNTDOWN_S })),
      );
      const fromPython = await runPythonClient(
        Array.from({ length: 3 }, () => ({
          op: 'send' as const,
          name: 'tasks.record',
          options: { countdown: COUNTDOWN_S },
        })),
        config,
        { env: env() },
      );
      const recordIds = fromPython.map((line) => line.id as string);
      expect(recordIds).toHaveLength(3);
      // All six are with the worker although its window is 2: none of them holds a slot.
      await untilQueueCounts(vhost, 'qeta', { ready: 0, unacked: 6 }, 15_000);

      const normal = await Promise.all(
        Array.from({ length: 4 }, () => app.sendTask('tasks.stamp', [], {}, { queue: 'qeta' })),
      );
      const normalStamps = (await Promise.all(normal.map((r) => r.get({ timeout: 15_000 })))) as number[];
      // They ran before any countdown task was due (with a full window they would wait for them).
      for (const stamp of normalStamps) expect(stamp * 1000).toBeLessThan(sentAt + COUNTDOWN_S * 1000);

      const stamps = (await Promise.all(stamped.map((r) => r.get({ timeout: 60_000 })))) as number[];
      for (const stamp of stamps) {
        expect(stamp * 1000).toBeGreaterThanOrEqual(sentAt + COUNTDOWN_S * 1000 - 50);
        expect(stamp).toBeGreaterThan(Math.max(...normalStamps));
      }
      const recorded = await Promise.all(recordIds.map((id) => app.AsyncResult(id).get({ timeout: 60_000 })));
      expect(recorded).toEqual(['celeriac', 'celeriac', 'celeriac']);
      await untilQueueCounts(vhost, 'qeta', { ready: 0, unacked: 0 }, 15_000);
      const runs = await records.hmget('interop.runs', ...recordIds);
      expect(runs).toEqual(['1', '1', '1']);
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});
