// task_reject_on_worker_lost with acks_late, checked by killing a real `celeriac worker` program
// (SIGKILL) while it runs a task, restoring what it held as the agent does (restoreOwner), and
// starting a second worker. Needs `npm run build`.
import { RedisBroker } from '@celeriac/broker';
import { Celeriac, RemoteTaskError } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

describe('task_reject_on_worker_lost', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let records: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    records = new Redis(redis.url(0));
  });
  afterAll(async () => {
    records?.disconnect();
    await redis?.stop();
  });

  /** Sends tasks.record_sleep, kills the worker running it, restores its held messages, starts another. */
  async function loseWorker(setting: boolean | undefined, queue: string) {
    const config: Record<string, unknown> = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_acks_late: true,
      ...(setting === undefined ? {} : { task_reject_on_worker_lost: setting }),
    };
    const app = new Celeriac('lost', config);
    const first = await CeleriacWorkerProcess.start({ config, queues: [queue], concurrency: 1 });
    const r = await app.sendTask('tasks.record_sleep', [1.5], {}, { queue });
    await pollUntil(async () => ((await records.hget('interop.runs', r.id)) === '1' ? true : undefined), {
      what: 'the task to start on the first worker',
    });
    await first.kill();
    // What the agent does when a worker dies: put back everything it held.
    const broker = new RedisBroker({ url: redis.url(0), logger: createLogger({ level: 'silent' }) });
    await broker.start();
    expect(await broker.restoreOwner(first.ownerId)).toBe(1);
    await broker.close();
    const second = await CeleriacWorkerProcess.start({ config, queues: [queue], concurrency: 1 });
    try {
      const outcome = await r.get({ timeout: 30_000 }).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      return { outcome, runs: Number(await records.hget('interop.runs', r.id)), output: second.output() };
    } finally {
      await second.stop();
      await app.close();
    }
  }

  it('false: the task whose worker died while running it gets FAILURE WorkerLostError and does not run again', async () => {
    const { outcome, runs, output } = await loseWorker(false, 'lost-false');
    expect(runs).toBe(1);
    expect('error' in outcome && outcome.error).toBeInstanceOf(RemoteTaskError);
    expect('error' in outcome && outcome.error).toMatchObject({
      excType: 'WorkerLostError',
      excModule: 'billiard.exceptions',
    });
    expect(output).toContain('"event":"worker.task_worker_lost"');
  });

  it('true (and unset): the task is requeued and runs again to SUCCESS', async () => {
    for (const [setting, queue] of [
      [true, 'lost-true'],
      [undefined, 'lost-unset'],
    ] as const) {
      const { outcome, runs } = await loseWorker(setting, queue);
      expect(outcome, String(setting)).toEqual({ value: 'celeriac' });
      expect(runs, String(setting)).toBe(2);
    }
  });
});
