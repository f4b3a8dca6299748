// RabbitMQ stopped and started (rabbitmqctl stop_app / start_app on a node of this file's own)
// while a TS producer streams acks_late tasks to a celeriac worker: both reconnect by themselves,
// nothing is lost, every task id ends SUCCESS. Duplicates are counted and reported: a task whose
// message RabbitMQ redelivered may legitimately run twice (at least once); the broker avoids it
// where it can (a redelivery of a task this worker still runs or finished is not run again).
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RabbitNode } from '../support/rabbitmq-node.js';
import { RedisServer } from '../support/redis-server.js';

const TASKS = 150;
const CONCURRENCY = 4;

describe('chaos: RabbitMQ restart mid-stream', { timeout: 60_000 }, () => {
  let node: RabbitNode;
  let redis: RedisServer;
  let records: Redis;
  let app: Celeriac;
  let worker: CeleriacWorkerProcess;

  beforeAll(async () => {
    [node, redis] = await Promise.all([RabbitNode.start(), RedisServer.start()]);
    records = new Redis(redis.url(2));
    const config = { broker_url: node.url(), result_backend: redis.url(1), task_acks_late: true };
    worker = await CeleriacWorkerProcess.start({
      config,
      queues: ['celery'],
      concurrency: CONCURRENCY,
      env: { INTEROP_RECORD_URL: redis.url(2) },
    });
    // The producer's reconnect warnings during the outage are expected; keep the output quiet.
    app = new Celeriac('amqp-chaos', config, { logger: createLogger({ level: 'error', pretty: false }) });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    records?.disconnect();
    await redis?.stop();
    await node?.stop();
  });

  it('loses nothing across stop_app / start_app; every task id has a SUCCESS result', async () => {
    const sent: Awaited<ReturnType<Celeriac['sendTask']>>[] = [];
    const producer = (async () => {
      for (let i = 0; i < TASKS; i++) {
        // Waits out the outage inside publish (the broker reconnects), then goes on.
        // A few long ones sent just before the restart are still running when the connection comes back.
        sent.push(await app.sendTask('tasks.record_sleep', [i >= 34 && i < 38 ? 6 : 0.05]));
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await pollUntil(async () => (sent.length >= 40 ? true : undefined), {
      what: '40 tasks sent before the restart',
      timeoutMs: 20_000,
      intervalMs: 20,
    });
    await node.stopApp();
    await new Promise((r) => setTimeout(r, 1000));
    expect(worker.program.running).toBe(true);
    await node.startApp();
    await producer;

    const values = await Promise.all(sent.map((r) => r.get({ timeout: 40_000 })));
    expect(values).toEqual(Array(TASKS).fill('celeriac'));
    const states = await Promise.all(sent.map(async (r) => (await r.refresh()).state));
    expect(new Set(states)).toEqual(new Set(['SUCCESS']));

    const runs = (await records.hmget('interop.runs', ...sent.map((r) => r.id))).map(Number);
    expect(runs.every((n) => n >= 1)).toBe(true);
    const duplicates = runs.filter((n) => n > 1).length;
    // Reported, not hidden: only messages in the worker's hands at the loss (at most concurrency ×
    // prefetch multiplier 4) can run twice, and the broker parks or settles those it can.
    const log = worker.program.output();
    const parked = log.split('broker.amqp_redelivery_parked').length - 1;
    const settled = log.split('broker.amqp_redelivery_settled').length - 1;
    console.info(
      `amqp-restart: ${TASKS} tasks, ${duplicates} ran more than once; redeliveries parked ${parked}, settled without a run ${settled}`,
    );
    expect(duplicates).toBeLessThanOrEqual(CONCURRENCY * 4);
    // The long ones were in the worker's hands at the loss: their redeliveries were parked or settled, not run.
    expect(parked + settled).toBeGreaterThanOrEqual(1);
    expect(log).toContain('broker.amqp_reconnected');
    expect(worker.program.running).toBe(true);
    await pollUntil(
      async () => {
        const c = await node.queueCounts('celery');
        return c?.ready === 0 && c.unacked === 0 ? c : undefined;
      },
      { what: 'the celery queue drained and acked', timeoutMs: 15_000, intervalMs: 200 },
    );
  });
});
