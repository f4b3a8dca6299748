// SIGKILL of a `celeriac worker` in the middle of an acks_late task: the delivery stays in kombu's
// `unacked` hash, and once the visibility timeout (2 s here) has passed a new worker runs it again.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

const VISIBILITY_TIMEOUT_SEC = 2;

describe('chaos: SIGKILL with acks_late', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let app: Celeriac;
  let brokerDb: Redis;
  const workers: CeleriacWorkerProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = new Celeriac('chaos', { broker_url: redis.url(0), result_backend: redis.url(1) });
    brokerDb = new Redis(redis.url(0));
  });

  afterAll(async () => {
    await app?.close();
    brokerDb?.disconnect();
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
  });

  it('runs the task again after the visibility timeout', async () => {
    const config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_acks_late: true,
      broker_transport_options: { visibility_timeout: VISIBILITY_TIMEOUT_SEC },
    };
    const doomed = await CeleriacWorkerProcess.start({
      config,
      queues: ['late'],
      concurrency: 1,
      env: { INTEROP_WORKER_TAG: 'killed' },
    });
    workers.push(doomed);
    const sentAt = Date.now();
    const result = await app.sendTask('tasks.record_sleep', [2], {}, { queue: 'late' });
    await pollUntil(async () => ((await brokerDb.hget('interop.runs', result.id)) === '1' ? true : undefined), {
      what: 'the task to start on the first worker',
      detail: () => doomed.program.tail(),
    });
    await doomed.kill();
    // acks_late: the delivery was not acked, so it is still recorded as unacked.
    expect(await brokerDb.hlen('unacked')).toBe(1);
    expect(await brokerDb.zcard('unacked_index')).toBe(1);

    const survivor = await CeleriacWorkerProcess.start({
      config,
      queues: ['late'],
      concurrency: 1,
      env: { INTEROP_WORKER_TAG: 'survivor' },
    });
    workers.push(survivor);
    const rerunAt = await pollUntil(
      async () => ((await brokerDb.hget('interop.runs', result.id)) === '2' ? Date.now() : undefined),
      {
        what: 'the task to run again on the survivor',
        timeoutMs: 45_000,
        intervalMs: 20,
        detail: () => survivor.program.tail(),
      },
    );
    // Not restored before the visibility timeout (counted from the delivery, which followed the send).
    expect(rerunAt - sentAt).toBeGreaterThanOrEqual(VISIBILITY_TIMEOUT_SEC * 1000 - 50);
    expect(await result.get({ timeout: 30_000 })).toBe('survivor');
    expect(await brokerDb.hget('interop.runs', result.id)).toBe('2');
    await pollUntil(async () => ((await brokerDb.hlen('unacked')) === 0 ? true : undefined), {
      what: 'the unacked hash to empty after the second run',
      timeoutMs: 10_000,
    });
  });
});
