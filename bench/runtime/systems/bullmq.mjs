// BullMQ from npm as a benchmark anchor (concurrency 1 or 50); finished jobs keep their results.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { Program } from '../lib/processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BATCH = 1000;

/** A BullMQ system: one worker process with `concurrency`; `n` jobs per drain. */
export function bullmqSystem({ name, redis, concurrency, n }) {
  const connection = { host: '127.0.0.1', port: redis.port, db: 0, maxRetriesPerRequest: null };
  let queue;
  let events;
  const open = async () => {
    queue ??= new Queue('bench', { connection });
    await queue.waitUntilReady();
  };
  return {
    name,
    n,
    /** BullMQ jobs wait in a paused queue until the worker is ready; `release` resumes it. */
    async enqueue(commands) {
      await open();
      await queue.pause();
      let start = performance.now();
      for (let i = 0; i < n; i++) await queue.add('noop', {});
      const loop = n / ((performance.now() - start) / 1000);
      await commands.broker.flushdb();
      await queue.pause();
      start = performance.now();
      const pending = [];
      for (let i = 0; i < n; i++) {
        pending.push(queue.add('noop', {}));
        if (pending.length === BATCH) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const pipelined = n / ((performance.now() - start) / 1000);
      await commands.broker.flushdb();
      await queue.pause();
      start = performance.now();
      for (let i = 0; i < n; i += BATCH) {
        await queue.addBulk(Array.from({ length: Math.min(BATCH, n - i) }, () => ({ name: 'noop', data: {} })));
      }
      const batch = n / ((performance.now() - start) / 1000);
      return { loop, pipelined, batch };
    },
    async hold() {},
    async release() {
      await queue.resume();
    },
    spawnWorker() {
      const program = new Program(name, process.execPath, [
        path.join(HERE, '..', 'bullmq-worker.mjs'),
        redis.url(0),
        String(concurrency),
      ]);
      return { program, ready: () => program.waitFor(/^bullmq\.ready$/m) };
    },
    async doneCount(commands) {
      return commands.broker.zcard('bull:bench:completed');
    },
    async roundTrips(samples) {
      await open();
      // A QueueEvents reader only sees events after its first blocking XREAD, which starts some
      // time after waitUntilReady(): probe until a finish notification arrives. It is closed again
      // afterwards so that it does not read the next drain's 10,000 events during the measurement.
      events = new QueueEvents('bench', { connection });
      await events.waitUntilReady();
      for (let attempt = 1; ; attempt++) {
        const probe = await queue.add('noop', {});
        try {
          await probe.waitUntilFinished(events, 2000);
          break;
        } catch (error) {
          if (attempt === 5) throw error;
        }
      }
      const out = [];
      for (let i = 0; i < samples + 20; i++) {
        const start = performance.now();
        const job = await queue.add('noop', {});
        await job.waitUntilFinished(events, 10_000);
        if (i >= 20) out.push(performance.now() - start);
      }
      await events.close();
      events = undefined;
      return out;
    },
    async close() {
      await events?.close();
      await queue?.close();
      events = undefined;
      queue = undefined;
    },
  };
}
