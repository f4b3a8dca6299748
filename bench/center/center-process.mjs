// The center under test, in its own process: file store in a temp dir, a free port. Imports the
// center from `CENTER_DIST` (default: this checkout's config-center/dist), so an older build can
// be measured the same way. Answers { type: 'memory' } with its memory use (after a GC when
// --expose-gc is on), { type: 'cpu' } with its CPU time so far (ms), and { type: 'peak' } with the highest RSS (and V8 heapTotal) sampled every 50 ms since the last one.
// { type: 'snapshot', file } writes a V8 heap snapshot there (the runner asks with
// CENTER_HEAP_SNAPSHOT=<file> once every long-poll is held, before the first write).
// CENTER_FANOUT_PROF=<dir>: the runner's `cpu` messages around each write start and stop a CPU
// profile, written as <dir>/fanout-<n>.cpuprofile (the write and its answers only, not set-up).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
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
const profileDir = process.env.CENTER_FANOUT_PROF;
let profiler;
let profiles = 0;
if (profileDir) {
  mkdirSync(profileDir, { recursive: true });
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
}
// CENTER_ALLOC_PROF=<file>: a sampling heap profile (what allocated, by stack) from start to stop.
const allocProfile = process.env.CENTER_ALLOC_PROF;
let allocSession;
if (allocProfile) {
  allocSession = new Session();
  allocSession.connect();
  await allocSession.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}
let peak = 0;
let peakHeap = 0;
setInterval(() => {
  const usage = process.memoryUsage();
  peak = Math.max(peak, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapTotal);
}, 50).unref();
process.on('message', async (message) => {
  if (message?.type === 'memory') {
    globalThis.gc?.();
    const usage = process.memoryUsage();
    process.send({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed });
  } else if (message?.type === 'cpu') {
    // CPU time is read inside the profiled window: the profiler's own start and stop are left out.
    if (profiler && message.profile === 'start') await profiler.post('Profiler.start');
    const usage = process.cpuUsage();
    if (profiler && message.profile === 'stop') {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(path.join(profileDir, `fanout-${++profiles}.cpuprofile`), JSON.stringify(profile));
    }
    process.send({ type: 'cpu', ms: (usage.user + usage.system) / 1000 });
  } else if (message?.type === 'snapshot') {
    globalThis.gc?.();
    process.send({ type: 'snapshot', file: writeHeapSnapshot(message.file) });
  } else if (message?.type === 'peak') {
    const usage = process.memoryUsage();
    process.send({ type: 'peak', rss: Math.max(peak, usage.rss), heapTotal: Math.max(peakHeap, usage.heapTotal) });
    peak = 0;
    peakHeap = 0;
  } else if (message?.type === 'stop') {
    if (allocSession) {
      const { profile } = await allocSession.post('HeapProfiler.stopSampling');
      writeFileSync(allocProfile, JSON.stringify(profile));
    }
    await center.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.send({ type: 'listening', url: center.url });
