// A task that kills its worker (process.exit) is redelivered after each crash at most
// celeriac_redelivery_limit times, then dead-lettered with reason redelivery_limit and a FAILURE
// result, while 50 normal tasks complete. The workers run under a small respawn loop that, like
// the agent, restores a dead worker's messages at once (restoreOwner).
import { RedisBroker } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

const LIMIT = 5;
const TASKS_MODULE = new URL('./chaos-tasks.ts', import.meta.url).pathname;

describe('chaos: a poison message', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let brokerDb: Redis;
  let backendDb: Redis;
  let restorer: RedisBroker;

  beforeAll(async () => {
    redis = await RedisServer.start();
    brokerDb = new Redis(redis.url(0));
    backendDb = new Redis(redis.url(1));
    restorer = new RedisBroker({ url: redis.url(0), logger: createLogger({ level: 'silent', pretty: false }) });
    await restorer.start();
  });
  afterAll(async () => {
    await restorer?.close();
    brokerDb?.disconnect();
    backendDb?.disconnect();
    await redis?.stop();
  });

  it(`is dead-lettered after ${LIMIT} redeliveries while 50 normal tasks complete`, async () => {
    const config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_acks_late: true,
      celeriac_redelivery_limit: LIMIT,
    };
    const [poison, normal] = await runPythonClient(
      [
        { op: 'send', name: 'chaos.crash' },
        { op: 'send_many', name: 'tasks.record', count: 50 },
      ],
      config,
    );
    const done = async () => {
      const docs = await backendDb.mget([poison!.id!, ...normal!.ids!].map((id) => `celery-task-meta-${id}`));
      return docs.every((d) => d !== null && JSON.parse(d).status !== 'STARTED');
    };
    let crashes = 0;
    let worker: CeleriacWorkerProcess | undefined;
    let lastOutput = '';
    const deadline = Date.now() + 150_000;
    // The respawn loop: a worker that exits is restored (as the agent does) and replaced.
    while (!(await done()) && Date.now() < deadline) {
      worker = await CeleriacWorkerProcess.start({ config, module: TASKS_MODULE, queues: ['celery'], concurrency: 4 });
      const exit = await Promise.race([
        worker.program.exited,
        pollUntil(async () => ((await done()) ? true : undefined), {
          what: 'all done',
          timeoutMs: 150_000,
          intervalMs: 50,
        }),
      ]);
      if (exit !== true) {
        crashes++;
        lastOutput = worker.output();
        await restorer.restoreOwner(worker.ownerId);
        await worker.kill();
      }
    }
    await worker?.stop();
    const runs = Number(await brokerDb.hget('chaos.crash_runs', poison!.id!));
    const normalDone = (await backendDb.mget(normal!.ids!.map((id) => `celery-task-meta-${id}`))).filter(
      (d) => d !== null && JSON.parse(d).status === 'SUCCESS',
    ).length;
    const dead = (await brokerDb.lrange('celeriac.dead-letter', 0, -1)).map((r) => JSON.parse(r));
    const doc = JSON.parse((await backendDb.get(`celery-task-meta-${poison!.id}`)) ?? 'null');
    console.log(
      `poison-redelivery: limit ${LIMIT}: the poison task ran ${runs} times (${crashes} worker crashes), ` +
        `${dead.length} dead-letter record(s) (${dead.map((d) => d.reason).join(', ')}), result ${doc?.status}; ` +
        `${normalDone}/50 normal tasks succeeded`,
    );
    expect({ runs, crashes }, lastOutput.slice(-2_000)).toEqual({ runs: LIMIT + 1, crashes: LIMIT + 1 });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      reason: 'redelivery_limit',
      task_id: poison!.id,
      task: 'chaos.crash',
      redeliveries: LIMIT,
    });
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'WorkerLostError', exc_module: 'billiard.exceptions' },
    });
    expect(normalDone).toBe(50);
    expect(await brokerDb.llen('celery')).toBe(0);
  });
});
