// Eta messages never stall a worker and run exactly once, whatever the visibility timeout: a
// waiting eta takes no prefetch slot, and beyond the horizon it waits in Redis (celeriac.delayed)
// until a worker moves it back to its queue (by Redis TIME).
import { parseCeleryDate } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

describe('chaos: eta without stalls or duplicates', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let brokerDb: Redis;
  let backendDb: Redis;
  let running: CeleriacWorkerProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    brokerDb = new Redis(redis.url(0));
    backendDb = new Redis(redis.url(1));
  });
  beforeEach(async () => {
    await brokerDb.flushall();
  });
  afterEach(async () => {
    await Promise.all(running.map((w) => w.stop()));
    running = [];
  });
  afterAll(async () => {
    brokerDb?.disconnect();
    backendDb?.disconnect();
    await redis?.stop();
  });

  const docsOf = async (ids: string[]) =>
    (await backendDb.mget(ids.map((id) => `celery-task-meta-${id}`))).map((d) =>
      d === null ? null : (JSON.parse(d) as { status: string; date_done: string }),
    );

  it('70 countdown=600 tasks then 100 normal from a Python client: the 100 finish within 2 s on -c 8', async () => {
    const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 8 });
    running.push(worker);
    const [, normal] = await runPythonClient(
      [
        { op: 'send_many', name: 'tasks.noop', count: 70, options: { countdown: 600 } },
        { op: 'send_many', name: 'tasks.add', args: [1, 2], count: 100 },
      ],
      config,
    );
    const ids = normal!.ids!;
    const docs = await pollUntil(
      async () => {
        const found = await docsOf(ids);
        return found.every((d) => d?.status === 'SUCCESS') ? found : undefined;
      },
      { what: 'the 100 normal tasks', timeoutMs: 15_000, intervalMs: 20, detail: () => worker.program.tail() },
    );
    const lastDoneMs = Math.max(...docs.map((d) => parseCeleryDate(d!.date_done)!.getTime()));
    const tookMs = lastDoneMs - normal!.sent_at! * 1000;
    const delayed = await brokerDb.zcard('celeriac.delayed');
    console.log(
      `eta-horizon: 100 normal tasks done ${tookMs.toFixed(0)} ms after the first was sent ` +
        `(sending took ${normal!.sent_ms!.toFixed(0)} ms); ${delayed} countdown tasks in celeriac.delayed`,
    );
    expect(tookMs).toBeLessThan(2_000);
    expect(delayed).toBe(70);
    expect(await brokerDb.hlen('unacked')).toBe(0);
  });

  it('an eta past a 2 s visibility timeout runs exactly once, at its eta, with two workers', async () => {
    const config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      broker_transport_options: { visibility_timeout: 2 },
    };
    for (const tag of ['a', 'b']) {
      running.push(
        await CeleriacWorkerProcess.start({
          config,
          queues: ['celery'],
          concurrency: 2,
          env: { INTEROP_WORKER_TAG: tag },
        }),
      );
    }
    const [sent] = await runPythonClient(
      [{ op: 'send_many', name: 'tasks.record', count: 5, options: { countdown: 5 } }],
      config,
    );
    const ids = sent!.ids!;
    const etaMs = sent!.sent_at! * 1000 + 5_000;
    const docs = await pollUntil(
      async () => {
        const found = await docsOf(ids);
        return found.every((d) => d?.status === 'SUCCESS') ? found : undefined;
      },
      {
        what: 'the eta tasks',
        timeoutMs: 30_000,
        intervalMs: 50,
        detail: () => running.map((w) => w.output()).join('\n'),
      },
    );
    // Two more visibility timeouts: nothing runs a second time.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const runs = await brokerDb.hgetall('interop.runs');
    const counts = ids.map((id) => Number(runs[id] ?? 0));
    const lateMs = docs.map((d) => parseCeleryDate(d!.date_done)!.getTime() - etaMs);
    console.log(
      `eta-horizon: 5 tasks with countdown=5 and a 2 s visibility timeout: runs per task ${counts.join(',')}; ` +
        `done ${Math.min(...lateMs).toFixed(0)}..${Math.max(...lateMs).toFixed(0)} ms after the eta`,
    );
    expect(counts).toEqual(ids.map(() => 1));
    for (const late of lateMs) expect(late).toBeGreaterThanOrEqual(-50);
    expect(await brokerDb.zcard('celeriac.delayed')).toBe(0);
  });
});
