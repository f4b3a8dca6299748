// BullMQ anchor worker: no-op jobs, results kept (BullMQ stores the return value in the job hash).
// Usage: node bullmq-worker.mjs <redis-url> <concurrency>
import { Worker } from 'bullmq';

const [url, concurrency = '1'] = process.argv.slice(2);
const { hostname, port, pathname } = new URL(url);
const connection = {
  host: hostname,
  port: Number(port),
  db: Number(pathname.slice(1) || 0),
  maxRetriesPerRequest: null,
};
const worker = new Worker('bench', async () => null, { connection, concurrency: Number(concurrency) });
await worker.waitUntilReady();
process.stdout.write('bullmq.ready\n');
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
