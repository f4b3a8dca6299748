// A worker on RabbitMQ when its broker goes away (a private node of this file, `rabbitmqctl
// stop_app`/`start_app`): with broker_connection_retry off or broker_connection_max_retries spent
// it fails as on Redis (`worker.broker_connection_lost`, state `failed`, the CLI exits 1); with
// retry on and RabbitMQ back within the retries it goes on running tasks.
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CeleriacWorkerProcess } from '../../../test/support/celery-ts-worker.js';
import { RabbitNode } from '../../../test/support/rabbitmq-node.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Worker } from '../src/index.js';
import { LogCapture, takeLogSchemaProblems, waitFor } from './support.js';

describe('a worker on RabbitMQ losing its broker', { timeout: 60_000 }, () => {
  let node: RabbitNode;
  let redis: RedisServer;
  const apps: Celeriac[] = [];
  const workers: Worker[] = [];

  const app = (settings: Record<string, unknown> = {}) => {
    const a = new Celeriac(
      'amqp-lost',
      { broker_url: node.url(), result_backend: redis.url(1), ...settings },
      { logger: createLogger({ level: 'silent' }) },
    );
    apps.push(a);
    return a;
  };
  const worker = async (a: Celeriac, log: LogCapture) => {
    const w = new Worker({ app: a, queues: ['celery'], concurrency: 2, hostname: 'lost@host', logger: log.logger });
    workers.push(w);
    await w.start();
    return w;
  };

  beforeAll(async () => {
    [node, redis] = await Promise.all([RabbitNode.start(), RedisServer.start()]);
  });
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.close()));
    await Promise.allSettled(apps.splice(0).map((a) => a.close()));
    // Every test ends with RabbitMQ up again for the next one.
    await node.startApp().catch(() => undefined);
  });
  afterAll(async () => {
    await node?.stop();
    await redis?.stop();
  });

  it('with broker_connection_retry off, losing RabbitMQ fails the worker at once, as on Redis', async () => {
    const log = new LogCapture();
    const w = await worker(app({ broker_connection_retry: false }), log);
    expect(w.state).toBe('running');
    await node.stopApp();
    await waitFor(() => (w.state === 'failed' ? true : undefined), 20_000);
    const lost = log.events('worker.broker_connection_lost');
    expect(lost).toHaveLength(1);
    expect(String(lost[0]?.msg)).toMatch(
      /^consumer: connection to broker amqp:\/\/guest:\*\*\*@127\.0\.0\.1:\d+\/%2F lost: broker_connection_retry is off/,
    );
    expect(JSON.stringify(log.lines)).not.toContain('guest:guest');
    expect(takeLogSchemaProblems()).toEqual([]);
  });

  it('with retry on, RabbitMQ back (stop_app/start_app) within the retries: the worker goes on running tasks', async () => {
    const log = new LogCapture();
    const a = app();
    const add = a.task('t.add', (x: number, y: number) => x + y);
    const w = await worker(a, log);
    expect(await (await add.delay(1, 2)).get({ timeout: 15_000 })).toBe(3);
    await node.stopApp();
    await waitFor(() => (log.events('broker.amqp_state').some((l) => l.state === 'reconnecting') ? true : undefined));
    await node.startApp();
    await waitFor(() => (log.events('broker.amqp_reconnected').length > 0 ? true : undefined), 30_000);
    expect(await (await add.delay(20, 22)).get({ timeout: 20_000 })).toBe(42);
    expect(w.state).toBe('running');
    expect(log.events('worker.broker_connection_lost')).toHaveLength(0);
  });

  it('the celeriac CLI worker with broker_connection_max_retries 1 exits 1 once its one retry (2 s) fails', async () => {
    const config = { broker_url: node.url(), result_backend: redis.url(2), broker_connection_max_retries: 1 };
    const cli = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 1 });
    try {
      const t0 = performance.now();
      await node.stopApp();
      const exit = await Promise.race([
        cli.program.exited,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000).unref()),
      ]);
      expect(exit, cli.output()).toEqual({ code: 1, signal: null });
      // kombu's first sleep is 2 s; the retry after it fails and the worker gives up.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1_900);
      const lost = cli
        .output()
        .split('\n')
        .filter((line) => line.includes('"worker.broker_connection_lost"'));
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatch(/lost: gave up after 1 retries \(broker_connection_max_retries = 1\)/);
      expect(cli.output()).toMatch(/"event":"worker.state".*"to":"failed".*"reason":"fatal_error"/);
    } finally {
      await cli.stop();
    }
  });
});
