// One Python Celery worker and one celeriac worker on one queue: 1,000 tasks, sent by a Python and
// a celeriac client, each run exactly once and each result stored.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const TOTAL = 1000;

describe('mixed fleet: Python and celeriac workers on one queue', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let pyWorker: CeleryWorker;
  let tsWorker: CeleriacWorkerProcess;
  let app: Celeriac;
  let brokerDb: Redis;
  let backendDb: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    [pyWorker, tsWorker] = await Promise.all([
      CeleryWorker.start({ config, queues: ['fleet'], env: { PYTASKS_WORKER_TAG: 'python' } }),
      CeleriacWorkerProcess.start({
        config,
        queues: ['fleet'],
        concurrency: 8,
        env: { INTEROP_WORKER_TAG: 'celeriac' },
      }),
    ]);
    app = new Celeriac('fleet', config);
    brokerDb = new Redis(redis.url(0));
    backendDb = new Redis(redis.url(1));
  });

  afterAll(async () => {
    await app?.close();
    brokerDb?.disconnect();
    backendDb?.disconnect();
    await Promise.all([pyWorker?.stop(), tsWorker?.stop()]);
    await redis?.stop();
  });

  it(`runs each of ${TOTAL} tasks exactly once and stores every result`, async () => {
    const half = TOTAL / 2;
    const pythonSent = runPythonClient(
      [{ op: 'send_many', name: 'tasks.record', count: half, options: { queue: 'fleet' } }],
      { broker_url: redis.url(0), result_backend: redis.url(1) },
    );
    const tsIds: string[] = [];
    for (let i = 0; i < half; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () => app.sendTask('tasks.record', [], {}, { queue: 'fleet' })),
      );
      tsIds.push(...batch.map((r) => r.id));
    }
    const [pyLine] = await pythonSent;
    const ids = [...(pyLine?.ids ?? []), ...tsIds];
    expect(new Set(ids).size).toBe(TOTAL);

    const keys = ids.map((id) => `celery-task-meta-${id}`);
    const docs = await pollUntil(
      async () => {
        const values = await backendDb.mget(keys);
        return values.every((v) => v !== null) ? values.map((v) => JSON.parse(v as string)) : undefined;
      },
      {
        what: `all ${TOTAL} results`,
        timeoutMs: 90_000,
        intervalMs: 200,
        detail: () => `python worker:\n${pyWorker.program.tail(15)}\nceleriac worker:\n${tsWorker.program.tail(15)}`,
      },
    );
    expect(docs.map((d) => d.status)).toEqual(ids.map(() => 'SUCCESS'));

    const runs = await brokerDb.hgetall('interop.runs');
    expect(Object.keys(runs)).toHaveLength(TOTAL);
    expect(ids.filter((id) => runs[id] !== '1')).toEqual([]);

    const byWorker = { python: 0, celeriac: 0 } as Record<string, number>;
    for (const doc of docs) byWorker[doc.result as string] = (byWorker[doc.result as string] ?? 0) + 1;
    expect(byWorker.python! + byWorker.celeriac!).toBe(TOTAL);
    expect(byWorker.python).toBeGreaterThan(0);
    expect(byWorker.celeriac).toBeGreaterThan(0);

    // Nothing left behind: no queued message and no unacked delivery.
    await pollUntil(async () => ((await brokerDb.hlen('unacked')) === 0 ? true : undefined), {
      what: 'the unacked hash to empty',
      timeoutMs: 10_000,
    });
    expect(await brokerDb.llen('fleet')).toBe(0);
  });
});
