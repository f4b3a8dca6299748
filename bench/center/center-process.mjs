// The center under test, in its own process: file store in a temp dir, a free port. Imports the
// center from `CENTER_DIST` (default: this checkout's config-center/dist), so an older build can
// be measured the same way. Answers { type: 'memory' } with its memory use (after a GC when
// --expose-gc is on), { type: 'cpu' } with its CPU time so far (ms), and { type: 'peak' } with the highest RSS sampled every 50 ms since the last one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger } from '@celeriac/logger';

const dist = process.env.CENTER_DIST ?? path.resolve(import.meta.dirname, '../../config-center/dist');
const { startCenter } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-bench-center-'));
// BENCH_SEED_NODES=n: the set-up (defaults, group fleet, n node layers in it) is written as the
// revision log itself before the center starts, instead of n HTTP writes with an fsync each.
const seed = Number(process.env.BENCH_SEED_NODES ?? 0);
if (seed > 0) {
  const { encodeRecord } = await import(pathToFileURL(path.join(dist, 'store/revision-log.js')).href);
  const author = { token_id: 'tok_bench', name: 'bench', role: 'admin' };
  const records = [];
  const add = (layer, document) =>
    records.push(
      encodeRecord({
        revision: records.length + 1,
        layer,
        kind: 'put',
        author,
        time: new Date().toISOString(),
        message: 'bench set-up',
        diff: [],
        document,
      }),
    );
  add('defaults', {
    celery: { broker_url: 'redis://127.0.0.1:6379/0', task_default_queue: 'celery' },
    programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'], concurrency: 8 } },
  });
  add('groups/fleet', { celery: { result_expires: 0 } });
  for (let i = 0; i < seed; i++) add(`nodes/node-${i}`, { groups: ['fleet'] });
  writeFileSync(path.join(dataDir, 'revisions.log'), records.join(''));
}
const center = await startCenter({
  dataDir,
  listen: '127.0.0.1:0',
  store: 'file',
  adminToken: process.env.CELERIAC_ADMIN_TOKEN,
  logger: createLogger({ level: process.env.BENCH_CENTER_LOG ?? 'warn', pretty: false }),
});
let peak = 0;
setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 50).unref();
process.on('message', async (message) => {
  if (message?.type === 'memory') {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    process.send({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed });
  } else if (message?.type === 'cpu') {
    const usage = process.cpuUsage();
    process.send({ type: 'cpu', ms: (usage.user + usage.system) / 1000 });
  } else if (message?.type === 'peak') {
    process.send({ type: 'peak', rss: Math.max(peak, process.memoryUsage.rss()) });
    peak = 0;
  } else if (message?.type === 'stop') {
    await center.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.send({ type: 'listening', url: center.url });
