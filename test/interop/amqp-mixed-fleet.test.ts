// A mixed fleet on RabbitMQ: one Python Celery 5.2 worker and one celeriac worker on one AMQP queue.
// 1,000 tasks each run exactly once and both workers take some; a chord whose header runs on both
// completes (Redis result backend); a celeriac worker killed with SIGKILL while holding unacked
// acks_late messages gives them back at once, and a Python worker runs every one of them.
import { Celeriac, chord, signature } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { type QueueCounts, untilQueueCounts } from '../support/queue-counts.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';
import { runCanvasClient } from './canvas-support.js';

const TOTAL = 1_000;
const GET = { timeout: 60_000 };

describe('a Python and a celeriac worker on one RabbitMQ queue', { timeout: 180_000 }, () => {
  let vhost: RabbitVhost;
  let redis: RedisServer;
  let records: Redis;
  let backend: Redis;
  let config: Record<string, unknown>;
  const env = () => ({ PYTASKS_RECORD_URL: redis.url(2), INTEROP_RECORD_URL: redis.url(2) });
  const settled = (queue: string, want: QueueCounts, timeoutMs: number) =>
    untilQueueCounts(vhost, queue, want, timeoutMs);

  beforeAll(async () => {
    [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
    config = { broker_url: vhost.url(), result_backend: redis.url(1) };
    records = new Redis(redis.url(2));
    backend = new Redis(redis.url(1));
  });

  afterAll(async () => {
    records?.disconnect();
    backend?.disconnect();
    await redis?.stop();
    await vhost?.delete();
  });

  describe('sharing the queue `fleet`', () => {
    let ts: CeleriacWorkerProcess;
    let py: CeleryWorker;
    let app: Celeriac;
    const tails = () => `python worker:\n${py.program.tail(30)}\nceleriac worker:\n${ts.program.tail(30)}`;

    beforeAll(async () => {
      [ts, py] = await Promise.all([
        CeleriacWorkerProcess.start({ config, queues: ['fleet'], concurrency: 8, env: env() }),
        CeleryWorker.start({ config, queues: ['fleet'], env: { ...env(), PYTASKS_WORKER_TAG: 'python' } }),
      ]);
      app = new Celeriac('amqp-fleet', { ...config, task_default_queue: 'fleet' });
    });

    afterAll(async () => {
      await app?.close();
      await Promise.all([ts?.stop(), py?.stop()]);
    });

    it(`${TOTAL} tasks from one client: each runs exactly once, both workers take some`, async () => {
      await records.del('interop.runs');
      const ids: string[] = [];
      for (let i = 0; i < TOTAL; i += 100) {
        const batch = await Promise.all(Array.from({ length: 100 }, () => app.sendTask('tasks.record')));
        ids.push(...batch.map((r) => r.id));
      }
      expect(new Set(ids).size).toBe(TOTAL);
      await pollUntil(async () => ((await records.hlen('interop.runs')) >= TOTAL ? true : undefined), {
        what: `${TOTAL} tasks run`,
        timeoutMs: 120_000,
        intervalMs: 250,
        detail: tails,
      });
      const runs = await records.hgetall('interop.runs');
      expect(Object.keys(runs).sort()).toEqual([...ids].sort());
      expect(Object.values(runs).every((n) => n === '1')).toBe(true);
      // tasks.record returns the tag of the worker that ran it; the results are read in one MGET.
      const metas = await pollUntil(
        async () => {
          const raw = await backend.mget(ids.map((id) => `celery-task-meta-${id}`));
          return raw.every((m) => m !== null) ? (raw as string[]) : undefined;
        },
        { what: `${TOTAL} results stored`, timeoutMs: 30_000 },
      );
      const byWorker = new Map<string, number>();
      for (const meta of metas) {
        const { status, result } = JSON.parse(meta) as { status: string; result: string };
        expect(status).toBe('SUCCESS');
        byWorker.set(result, (byWorker.get(result) ?? 0) + 1);
      }
      expect([...byWorker.keys()].sort()).toEqual(['celeriac', 'python']);
      expect((byWorker.get('celeriac') ?? 0) + (byWorker.get('python') ?? 0)).toBe(TOTAL);
      // Every message acked (a result is stored before its ack goes out, so the last acks may trail).
      await settled('fleet', { ready: 0, unacked: 0 }, 15_000);
    });

    it('a chord whose header runs on both workers completes, from either client', async () => {
      const part = () => signature('tasks.record_sleep', [0.2], {}, { queue: 'fleet' });
      const fromTs = await chord(
        Array.from({ length: 12 }, part),
        signature('tasks.echo', [], {}, { queue: 'fleet' }),
        {
          app,
        },
      ).applyAsync();
      const header = Array.from({ length: 12 }, () => ({
        name: 'tasks.record_sleep',
        args: [0.2],
        options: { queue: 'fleet' },
      }));
      const [fromPy] = await runCanvasClient(
        [{ op: 'chord', header, body: { name: 'tasks.echo', options: { queue: 'fleet' } }, wait: 60 }],
        config,
      );
      expect(fromPy?.ok, tails()).toBe(true);
      const tsValue = (await fromTs.get(GET)) as string[];
      const pyValue = fromPy?.result as string[];
      expect(tsValue).toHaveLength(12);
      expect(pyValue).toHaveLength(12);
      // Each part returns the tag of the worker that ran it: both kinds took part.
      expect(new Set([...tsValue, ...pyValue])).toEqual(new Set(['celeriac', 'python']));
    });
  });

  it('kill -9 of a celeriac worker with acks_late: its unacked messages return at once and a Python worker runs them all', async () => {
    const lateConfig = { ...config, task_acks_late: true };
    const app = new Celeriac('amqp-kill', lateConfig);
    const ts = await CeleriacWorkerProcess.start({ config: lateConfig, queues: ['crash'], concurrency: 2, env: env() });
    try {
      await records.del('interop.runs');
      const sent = await Promise.all(
        Array.from({ length: 6 }, () => app.sendTask('tasks.record_sleep', [5], {}, { queue: 'crash' })),
      );
      // 2 running, 4 prefetched (qos 2 × 4 = 8): all six delivered to it, none acked.
      await settled('crash', { ready: 0, unacked: 6 }, 20_000);
      await pollUntil(async () => ((await records.hlen('interop.runs')) === 2 ? true : undefined), {
        what: 'two tasks running on the celeriac worker',
      });
      await ts.kill();
      const killedAt = Date.now();
      await settled('crash', { ready: 6, unacked: 0 }, 10_000);
      // "At once": back within a few seconds, not after a visibility timeout.
      expect(Date.now() - killedAt).toBeLessThan(5_000);
      const py = await CeleryWorker.start({
        config: lateConfig,
        queues: ['crash'],
        pool: 'threads',
        concurrency: 6,
        env: { ...env(), PYTASKS_WORKER_TAG: 'python' },
      });
      try {
        const results = await Promise.all(sent.map((r) => r.get(GET)));
        expect(results).toEqual(Array(6).fill('python'));
        const runs = await records.hmget('interop.runs', ...sent.map((r) => r.id));
        // None lost: the two that were running ran again, the four prefetched ran once.
        expect(runs.map(Number).sort()).toEqual([1, 1, 1, 1, 2, 2]);
        await settled('crash', { ready: 0, unacked: 0 }, 15_000);
      } finally {
        await py.stop();
      }
    } finally {
      await ts.kill();
      await app.close();
    }
  });
});
