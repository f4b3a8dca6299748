// Far-future eta on RabbitMQ without holding the message: a celeriac worker whose
// celeriac_eta_horizon is short publishes each later eta message into Celery 5.5's native delayed
// delivery (celery_delayed_27 … 0, celery_delayed_delivery) and acks it, so a private node's small
// consumer_timeout (5 s) never closes its channel; the message comes back as a normal one at its
// eta and runs once (from the TS client and from Debian's Python Celery 5.2 client alike), a
// revoked one is dropped REVOKED, and a Python 5.2 worker on the queue takes a returning message
// as any other. A worker holding its eta messages (horizon 1 h) on the same node loses its
// channel to consumer_timeout: the failure this avoids, and proof the node enforces it.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RabbitNode } from '../support/rabbitmq-node.js';
import { RedisServer } from '../support/redis-server.js';

const COUNTDOWN_S = 15;
const CONSUMER_TIMEOUT_MS = 5_000;
const LOST = /amqp_connection_lost|amqp_reconnected|PRECONDITION_FAILED/;

describe('native delayed delivery on RabbitMQ (kombu 5.5 topology)', { timeout: 240_000 }, () => {
  let node: RabbitNode;
  let redis: RedisServer;
  let records: Redis;
  const env = () => ({ PYTASKS_RECORD_URL: redis.url(2), INTEROP_RECORD_URL: redis.url(2) });
  const celery = (queue: string) => ({
    broker_url: node.url(),
    result_backend: redis.url(1),
    task_default_queue: queue,
  });

  beforeAll(async () => {
    [node, redis] = await Promise.all([
      RabbitNode.start({ consumerTimeoutMs: CONSUMER_TIMEOUT_MS }),
      RedisServer.start(),
    ]);
    records = new Redis(redis.url(2));
  });

  afterAll(async () => {
    records?.disconnect();
    await redis?.stop();
    await node?.stop();
  });

  /** Messages in the delay levels (ready, as they wait there unconsumed). */
  async function inDelay(): Promise<number> {
    const out = await node.ctl('list_queues', '-q', 'name', 'messages');
    let n = 0;
    for (const line of out.split('\n')) {
      const [name, count] = line.trim().split(/\s+/);
      if (name?.startsWith('celery_delayed_')) n += Number(count);
    }
    return n;
  }

  it('countdown 15 s past a 5 s consumer_timeout: delayed, acked, runs once at its eta; no channel lost; others run meanwhile; revoked dropped', async () => {
    const config = { ...celery('ndd'), celeriac_eta_horizon: 2 };
    const heldConfig = { ...celery('ndd-held'), celeriac_eta_horizon: 3_600 };
    const app = new Celeriac('amqp-ndd', config);
    const [worker, holder] = await Promise.all([
      CeleriacWorkerProcess.start({ config, queues: ['ndd'], concurrency: 2, env: env() }),
      CeleriacWorkerProcess.start({ config: heldConfig, queues: ['ndd-held'], concurrency: 1, env: env() }),
    ]);
    try {
      const sentAt = Date.now();
      const [later, once, doomed] = await Promise.all([
        app.sendTask('tasks.stamp', [], {}, { countdown: COUNTDOWN_S }),
        app.sendTask('tasks.record', [], {}, { countdown: COUNTDOWN_S }),
        app.sendTask('tasks.record', [], {}, { countdown: COUNTDOWN_S }),
      ]);
      const held = await app.sendTask('tasks.stamp', [], {}, { countdown: COUNTDOWN_S, queue: 'ndd-held' });
      const fromPython = await runPythonClient(
        [{ op: 'send', name: 'tasks.record', options: { countdown: COUNTDOWN_S } }],
        celery('ndd'),
        { env: env() },
      );
      const pythonId = fromPython[0]?.id as string;
      const pythonSentAt = (fromPython[0]?.sent_at as number) * 1000;
      expect(pythonId).toBeTruthy();
      // All four left the queue acked and wait in the levels: nothing is unacked on the channel.
      await pollUntil(
        async () => {
          const [c, d] = [await node.queueCounts('ndd'), await inDelay()];
          return c?.ready === 0 && c.unacked === 0 && d === 4 ? true : undefined;
        },
        { what: 'four messages in the delay levels, none in ndd', timeoutMs: 10_000, intervalMs: 200 },
      );
      // kombu 5.5's topology, declared at the first defer: 28 quorum levels, TTL 2^i s, dead-lettered down at least once.
      const queues = await node.ctl('list_queues', '-q', 'name', 'type', 'arguments');
      for (let level = 0; level < 28; level++) {
        const row = queues.split('\n').find((l) => l.startsWith(`celery_delayed_${level}\t`)) ?? '';
        expect(row).toMatch(/\tquorum\t/);
        expect(row).toContain(`{"x-message-ttl",${2 ** level * 1000}}`);
        expect(row).toContain('{"x-dead-letter-strategy","at-least-once"}');
        expect(row).toContain('{"x-overflow","reject-publish"}');
        expect(row).toContain(
          `{"x-dead-letter-exchange","${level > 0 ? `celery_delayed_${level - 1}` : 'celery_delayed_delivery'}"}`,
        );
      }
      const bindings = await node.ctl('list_bindings', '-q', 'source_name', 'destination_name', 'routing_key');
      expect(bindings).toContain('celery_delayed_delivery\tndd\t#.ndd');
      expect(bindings).toContain('celery_delayed_27\tcelery_delayed_27\t1.#');
      expect(bindings).toContain(`celery_delayed_27\tcelery_delayed_26\t0.#`);
      expect(bindings).toContain(`celery_delayed_0\tcelery_delayed_delivery\t${'*.'.repeat(27)}0.#`);
      expect(bindings).toContain(`celery_delayed_0\tcelery_delayed_0\t${'*.'.repeat(27)}1.#`);

      const replies = await app.control.revoke(doomed.id, {
        destination: [worker.name],
        reply: true,
        timeoutMs: 2_000,
      });
      expect(JSON.stringify(replies)).toContain(`tasks ${doomed.id} flagged as revoked`);

      // Other tasks run meanwhile, well before the eta.
      const now = await Promise.all(Array.from({ length: 4 }, () => app.sendTask('tasks.stamp', [])));
      const nowStamps = (await Promise.all(now.map((r) => r.get({ timeout: 10_000 })))) as number[];
      for (const stamp of nowStamps) expect(stamp * 1000).toBeLessThan(sentAt + COUNTDOWN_S * 1000 - 3_000);

      const stamp = ((await later.get({ timeout: 60_000 })) as number) * 1000;
      const dueMs = sentAt + COUNTDOWN_S * 1000;
      // Never early (the worker holds the last second); late by what the levels' expiry takes.
      expect(stamp).toBeGreaterThanOrEqual(dueMs - 50);
      expect(stamp).toBeLessThan(dueMs + 5_000);
      console.log(`native delayed delivery: ran ${Math.round(stamp - dueMs)} ms after its eta`);
      expect(await app.AsyncResult(pythonId).get({ timeout: 60_000 })).toBe('celeriac');
      const pythonLate = Date.now() - (pythonSentAt + COUNTDOWN_S * 1000);
      expect(pythonLate).toBeGreaterThanOrEqual(-50);
      await pollUntil(
        async () => ((await app.AsyncResult(doomed.id).refresh()).state === 'REVOKED' ? true : undefined),
        {
          what: `${doomed.id} REVOKED`,
          timeoutMs: 30_000,
          intervalMs: 250,
        },
      );
      expect(await once.get({ timeout: 30_000 })).toBe('celeriac');
      expect(await records.hget('interop.runs', pythonId)).toBe('1');
      expect(await records.hget('interop.runs', once.id)).toBe('1');
      expect(await records.hget('interop.runs', doomed.id)).toBeNull();
      await pollUntil(
        async () => {
          const [c, d] = [await node.queueCounts('ndd'), await inDelay()];
          return c?.ready === 0 && c.unacked === 0 && d === 0 ? true : undefined;
        },
        { what: 'ndd and the levels empty', timeoutMs: 10_000, intervalMs: 200 },
      );
      expect(worker.output()).not.toMatch(LOST);

      // The worker holding its eta message loses its channel to consumer_timeout (Celery 5.2's problem).
      await pollUntil(async () => (LOST.test(holder.output()) ? true : undefined), {
        what: 'the holding worker to lose its channel',
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      expect(held.id).toBeTruthy();
    } finally {
      await Promise.all([worker.stop(), holder.stop()]);
      await app.close();
    }
  });

  it('mixed fleet: a message our worker delayed comes back to the queue and a Python 5.2 worker runs it once', async () => {
    const config = { ...celery('ndd-mix'), celeriac_eta_horizon: 2 };
    const app = new Celeriac('amqp-ndd-mix', config);
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['ndd-mix'], concurrency: 1, env: env() });
    let python: CeleryWorker | null = null;
    try {
      const sentAt = Date.now();
      const result = await app.sendTask('tasks.record', [], {}, { countdown: 10 });
      await pollUntil(
        async () => {
          const [c, d] = [await node.queueCounts('ndd-mix'), await inDelay()];
          return c?.ready === 0 && c.unacked === 0 && d === 1 ? true : undefined;
        },
        { what: 'the message in the delay levels', timeoutMs: 10_000, intervalMs: 200 },
      );
      await worker.stop();
      python = await CeleryWorker.start({ config: celery('ndd-mix'), queues: ['ndd-mix'], env: env() });
      expect(await result.get({ timeout: 60_000 })).toBe('python');
      expect(Date.now()).toBeGreaterThanOrEqual(sentAt + 10_000 - 50);
      expect(await records.hget('interop.runs', result.id)).toBe('1');
      expect(python.output()).not.toMatch(/Traceback|ERROR/);
    } finally {
      await worker.stop();
      await python?.stop();
      await app.close();
    }
  });
});
