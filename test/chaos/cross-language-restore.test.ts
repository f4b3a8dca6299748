// A worker of one language is SIGKILLed in the middle of an acks_late task; a worker of the other
// language restores the delivery from kombu's unacked hash after the visibility timeout and runs it.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const VISIBILITY_TIMEOUT_SEC = 2;

describe('chaos: unacked restore across languages', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let app: Celeriac;
  let brokerDb: Redis;
  let config: Record<string, unknown>;
  let running: { stop(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_acks_late: true,
      broker_transport_options: { visibility_timeout: VISIBILITY_TIMEOUT_SEC },
    };
    app = new Celeriac('chaos', config);
    brokerDb = new Redis(redis.url(0));
  });

  afterEach(async () => {
    await Promise.all(running.map((w) => w.stop()));
    running = [];
  });

  afterAll(async () => {
    await app?.close();
    brokerDb?.disconnect();
    await redis?.stop();
  });

  const startedRun = (id: string, detail: () => string) =>
    pollUntil(async () => ((await brokerDb.hget('interop.runs', id)) === '1' ? true : undefined), {
      what: 'the task to start on the first worker',
      detail,
    });

  it('a celeriac worker re-runs what a killed Python worker held', async () => {
    const python = await CeleryWorker.start({ config, queues: ['from-py'], env: { PYTASKS_WORKER_TAG: 'python' } });
    running.push(python);
    const result = await app.sendTask('tasks.record_sleep', [1], {}, { queue: 'from-py' });
    await startedRun(result.id, () => python.output());
    await python.kill();
    expect(await brokerDb.hlen('unacked')).toBe(1);

    const celeriac = await CeleriacWorkerProcess.start({ config, queues: ['from-py'], concurrency: 1 });
    running.push(celeriac);
    expect(await result.get({ timeout: 45_000 })).toBe('celeriac');
    expect(await brokerDb.hget('interop.runs', result.id)).toBe('2');
  });

  it('a Python worker re-runs what a killed celeriac worker held', async () => {
    const celeriac = await CeleriacWorkerProcess.start({ config, queues: ['from-ts'], concurrency: 1 });
    running.push(celeriac);
    const sentAt = Date.now();
    const result = await app.sendTask('tasks.record_sleep', [1], {}, { queue: 'from-ts' });
    await startedRun(result.id, () => celeriac.output());
    await celeriac.kill();
    expect(await brokerDb.hlen('unacked')).toBe(1);

    // Celery restores at consumer start (then only about every 100 s): start it once the timeout passed.
    const waitMs = sentAt + VISIBILITY_TIMEOUT_SEC * 1000 + 500 - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    const python = await CeleryWorker.start({ config, queues: ['from-ts'], env: { PYTASKS_WORKER_TAG: 'python' } });
    running.push(python);
    expect(await result.get({ timeout: 45_000 })).toBe('python');
    expect(await brokerDb.hget('interop.runs', result.id)).toBe('2');
  });
});
