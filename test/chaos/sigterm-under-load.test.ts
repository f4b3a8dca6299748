// SIGTERM to a busy `celeriac worker`: warm shutdown finishes what runs, hands back what it
// prefetched, and a second worker drains the rest; no task is lost and, with early acks, none runs twice.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

const TASKS = 200;

describe('chaos: SIGTERM under load', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let app: Celeriac;
  let brokerDb: Redis;
  let backendDb: Redis;
  const workers: CeleriacWorkerProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    app = new Celeriac('chaos', { broker_url: redis.url(0), result_backend: redis.url(1) });
    brokerDb = new Redis(redis.url(0));
    backendDb = new Redis(redis.url(1));
  });

  afterAll(async () => {
    await app?.close();
    brokerDb?.disconnect();
    backendDb?.disconnect();
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
  });

  it('loses nothing and runs nothing twice', async () => {
    const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    const first = await CeleriacWorkerProcess.start({
      config,
      queues: ['load'],
      concurrency: 4,
      env: { INTEROP_WORKER_TAG: 'first' },
    });
    workers.push(first);
    const results = await Promise.all(
      Array.from({ length: TASKS }, () => app.sendTask('tasks.record_sleep', [0.05], {}, { queue: 'load' })),
    );
    const ids = results.map((r) => r.id);

    // Stop it while it is busy: some tasks done, most still queued or prefetched.
    await pollUntil(async () => ((await brokerDb.hlen('interop.runs')) >= 12 ? true : undefined), {
      what: 'the first worker to run a dozen tasks',
      detail: () => first.program.tail(),
    });
    const exit = await first.stop(30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const doneByFirst = await brokerDb.hlen('interop.runs');
    expect(doneByFirst).toBeLessThan(TASKS);
    // Prefetched messages went back to the queue at once; nothing is left held in `unacked`.
    expect(await brokerDb.hlen('unacked')).toBe(0);
    expect(await brokerDb.llen('load')).toBe(TASKS - doneByFirst);

    const second = await CeleriacWorkerProcess.start({
      config,
      queues: ['load'],
      concurrency: 8,
      env: { INTEROP_WORKER_TAG: 'second' },
    });
    workers.push(second);
    const keys = ids.map((id) => `celery-task-meta-${id}`);
    const docs = await pollUntil(
      async () => {
        const values = await backendDb.mget(keys);
        return values.every((v) => v !== null) ? values.map((v) => JSON.parse(v as string)) : undefined;
      },
      { what: `all ${TASKS} results`, timeoutMs: 60_000, intervalMs: 200, detail: () => second.program.tail() },
    );
    expect(docs.map((d) => d.status)).toEqual(ids.map(() => 'SUCCESS'));
    const byWorker = docs.reduce<Record<string, number>>((acc, d) => {
      acc[d.result] = (acc[d.result] ?? 0) + 1;
      return acc;
    }, {});
    expect(byWorker.first).toBe(doneByFirst);
    expect(byWorker.second).toBe(TASKS - doneByFirst);
    const runs = await brokerDb.hgetall('interop.runs');
    expect(ids.filter((id) => runs[id] !== '1')).toEqual([]);
  });

  it('hands back a held countdown task at once, and the next worker runs it when due', async () => {
    const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    const holder = await CeleriacWorkerProcess.start({ config, queues: ['eta'], concurrency: 2 });
    workers.push(holder);
    const sentAt = Date.now() / 1000;
    const result = await app.sendTask('tasks.stamp', [], {}, { queue: 'eta', countdown: 6 });
    // Celery semantics: the worker pops an eta message at once and holds it (recorded as unacked).
    await pollUntil(
      async () => ((await brokerDb.llen('eta')) === 0 && (await brokerDb.hlen('unacked')) === 1 ? true : undefined),
      {
        what: 'the worker to hold the countdown task',
        detail: () => holder.program.tail(),
      },
    );
    const stopStarted = Date.now();
    expect(await holder.stop(30_000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopStarted).toBeLessThan(4500);
    expect(await brokerDb.hlen('unacked')).toBe(0);
    const [entry] = await brokerDb.lrange('eta', 0, -1);
    expect(JSON.parse(entry as string)).toMatchObject({
      headers: { id: result.id, redelivered: true },
      properties: { delivery_info: { redelivered: true } },
    });

    const next = await CeleriacWorkerProcess.start({ config, queues: ['eta'], concurrency: 2 });
    workers.push(next);
    const ranAt = (await result.get({ timeout: 30_000 })) as number;
    expect(ranAt - sentAt).toBeGreaterThanOrEqual(5.8);
  });
});
