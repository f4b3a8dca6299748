// A 10 s acks_late task with a 2 s visibility timeout runs once: its worker's lease keeps the
// message's unacked_index score fresh, so neither a second celeriac worker's restore nor a Python
// Celery worker's (kombu restore_visible at its start) takes it back while the owner lives.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

describe('chaos: a task longer than the visibility timeout', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let brokerDb: Redis;
  const running: { stop(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    brokerDb = new Redis(redis.url(0));
  });
  afterAll(async () => {
    await Promise.all(running.map((w) => w.stop()));
    brokerDb?.disconnect();
    await redis?.stop();
  });

  it('runs once while its worker lives, with another celeriac and a Python worker restoring', async () => {
    const config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_acks_late: true,
      broker_transport_options: { visibility_timeout: 2 },
    };
    const owner = await CeleriacWorkerProcess.start({ config, queues: ['long'], concurrency: 1 });
    running.push(owner);
    const [sent] = await runPythonClient(
      [{ op: 'send', name: 'tasks.record_sleep', args: [10], options: { queue: 'long' } }],
      config,
    );
    const id = sent!.id!;
    const other = await CeleriacWorkerProcess.start({ config, queues: ['long'], concurrency: 1 });
    running.push(other);
    // Past two visibility timeouts: a Python worker starts, and kombu restores what looks timed out.
    await new Promise((resolve) => setTimeout(resolve, 4_500 - (Date.now() - sent!.sent_at! * 1000)));
    const python = await CeleryWorker.start({ config, queues: ['long'] });
    running.push(python);
    const [got] = await runPythonClient([{ op: 'get', id, wait: 30 }], config);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const runs = Number(await brokerDb.hget('interop.runs', id));
    console.log(
      `lease-long-task: a 10 s task, 2 s visibility timeout, 3 workers: ran ${runs} time(s), state ${got!.state}`,
    );
    expect(got).toMatchObject({ ok: true, state: 'SUCCESS' });
    expect(runs).toBe(1);
    expect(await brokerDb.hlen('unacked')).toBe(0);
  });
});
