// Redis killed and restarted under a running worker and client: both reconnect and later tasks complete.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';
import { firstTaskThrough } from './first-task-through.js';

describe('chaos: Redis restart', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let app: Celeriac;
  let worker: CeleriacWorkerProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 4 });
    // The client's reconnect warnings during the outage are expected; keep the test output quiet.
    app = new Celeriac('chaos', config, { logger: createLogger({ level: 'error', pretty: false }) });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await redis?.stop();
  });

  it('recovers the worker and the client after Redis comes back', async () => {
    expect(await (await app.sendTask('tasks.add', [1, 2])).get({ timeout: 10_000 })).toBe(3);

    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.program.running).toBe(true);
    await redis.restart();

    // The restarted Redis is empty; every task sent from now on must complete.
    const value = await firstTaskThrough(app, worker, 'a task to complete after the restart');
    expect(value.got).toBe(value.attempt + 100);

    const later = await Promise.all(Array.from({ length: 20 }, (_, i) => app.sendTask('tasks.mul', [i, 2])));
    const values = await Promise.all(later.map((r) => r.get({ timeout: 15_000 })));
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i * 2));
    expect(worker.program.running).toBe(true);
  });
});
