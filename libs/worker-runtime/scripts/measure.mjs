// Quick figures for the worker runtime (the formal A/B benchmark lives in bench/):
//   node libs/worker-runtime/scripts/measure.mjs [tasks=40000] [concurrency=100] [multiplier=4]
// Needs `npm run build`. Starts its own redis-server on a free port.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Worker } from '@celeriac/worker-runtime';
import { Redis } from 'ioredis';

const total = Number(process.argv[2] ?? 40_000);
const concurrency = Number(process.argv[3] ?? 100);
const multiplier = Number(process.argv[4] ?? 4);

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-measure-'));
const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
});
for (;;) {
  const ok = await new Promise((r) =>
    net
      .connect(port, '127.0.0.1')
      .on('connect', function () {
        this.end();
        r(true);
      })
      .on('error', () => r(false)),
  );
  if (ok) break;
  await new Promise((r) => setTimeout(r, 20));
}
const url = (db) => `redis://127.0.0.1:${port}/${db}`;
const logger = createLogger({ level: 'warn', pretty: false });
const app = new Celeriac('measure', { broker_url: url(0), result_backend: url(1) }, { logger });
const noop = app.task('bench.noop', () => null);
const probe = new Redis(url(1));

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// 1. Drain: enqueue everything first, then start the worker and time until every result is stored.
const enqueueStart = performance.now();
for (let i = 0; i < total; i += 1000) {
  await noop.applyMany(Array.from({ length: Math.min(1000, total - i) }, () => []));
}
const enqueueMs = performance.now() - enqueueStart;
const worker = new Worker({
  app,
  queues: ['celery'],
  concurrency,
  prefetchMultiplier: multiplier,
  hostname: 'measure@local',
  logger,
});
// MEASURE_PROFILE=<file.cpuprofile> profiles the drain phase only.
const profileFile = process.env.MEASURE_PROFILE;
const session = profileFile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await worker.start();
while (worker.stats().executed < total) await new Promise((r) => setTimeout(r, 10));
while ((await probe.dbsize()) < total) await new Promise((r) => setTimeout(r, 1));
const drainMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuUsPerTask = (cpu.user + cpu.system) / total;
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(profileFile, JSON.stringify(profile));
  session.disconnect();
}

// 2. Lone task on an idle queue: delay → get round trips, one at a time.
await new Promise((r) => setTimeout(r, 1500));
const latencies = [];
for (let i = 0; i < 1000; i++) {
  const s = performance.now();
  const r = await noop.delay();
  await r.get({ timeout: 5000 });
  latencies.push(performance.now() - s);
}
latencies.sort((a, b) => a - b);
const rss = process.memoryUsage().rss / 1024 / 1024;
await worker.warmShutdown();
await app.close();
probe.disconnect();
redis.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });

const status = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  JSON.stringify(
    {
      tasks: total,
      concurrency,
      prefetch_multiplier: multiplier,
      enqueue_per_s: Math.round(total / (enqueueMs / 1000)),
      drain_per_s: Math.round(total / (drainMs / 1000)),
      worker_cpu_us_per_task: Number(cpuUsPerTask.toFixed(1)),
      delay_get_p50_ms: Number(pct(latencies, 50).toFixed(3)),
      delay_get_p99_ms: Number(pct(latencies, 99).toFixed(3)),
      rss_mb_after_run_in_process: Number(rss.toFixed(1)),
      loadavg: status,
    },
    null,
    2,
  ),
);
