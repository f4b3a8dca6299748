// Figures of the worker program as a supervisor runs it (`celeriac worker` in its own process):
//   node libs/worker-runtime/scripts/measure-program.mjs [rounds=3] [tasks=40000] [lone=2000]
// MEASURE_COMMANDSTATS=1 also prints Redis time per drained task by command and commands per lone round trip.
// MEASURE_WORKER_ARGS="-E" adds arguments to `celeriac worker` (the -E row: task events on).
// Needs `npm run build`. Starts its own redis-server on a free port. Per round: spawn -> ready (the
// ready file) with the worker's CPU at that moment, idle RSS 1 s later, a drain of `tasks` no-op
// tasks held back (RENAME) until the worker is ready (rate, worker and Redis CPU per task, peak RSS),
// then `lone` delay -> get round trips one at a time (p50/p99, Redis commands per round trip).
// Prints each round and the medians.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = path.join(ROOT, 'apps', 'cli', 'bin', 'celeriac.js');
const TASKS = path.join(ROOT, 'bench', 'runtime', 'celeriac-tasks.mjs');
const rounds = Number(process.argv[2] ?? 3);
const total = Number(process.argv[3] ?? 40_000);
const loneN = Number(process.argv[4] ?? 2000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-measure-program-'));
const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
});
process.env.BENCH_BROKER_URL = `redis://127.0.0.1:${port}/0`;
process.env.BENCH_RESULT_BACKEND = `redis://127.0.0.1:${port}/1`;
for (;;) {
  const up = await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (up) break;
  await sleep(20);
}
const broker = new Redis(process.env.BENCH_BROKER_URL);
const results = new Redis(process.env.BENCH_RESULT_BACKEND);
const { app, noop } = await import(TASKS);

const cpuMicros = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const redisCpuMicros = async () => {
  const info = await broker.info('cpu');
  return (Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1])) * 1e6;
};
const redisCalls = async () => {
  let calls = 0;
  for (const m of (await broker.info('commandstats')).matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
};
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];

const rows = [];
for (let round = 1; round <= rounds; round++) {
  await broker.flushall();
  for (let i = 0; i < total; i += 10_000) {
    await noop.applyMany(Array.from({ length: Math.min(10_000, total - i) }, () => []));
  }
  await broker.rename('bench', 'bench.hold');
  const readyFile = path.join(dir, `ready-${round}.json`);
  const spawnedAt = performance.now();
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '-A', TASKS, '-Q', 'bench', '-c', '100', '-l', 'warn']
      .concat(['--ready-file', readyFile])
      .concat((process.env.MEASURE_WORKER_ARGS ?? '').split(' ').filter((a) => a !== '')),
    {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  while (!existsSync(readyFile)) await sleep(1);
  const readyMs = performance.now() - spawnedAt;
  const readyCpuMs = cpuMicros(child.pid) / 1000;
  await sleep(1000);
  const idleRssMb = rssMb(child.pid);

  const worker0 = cpuMicros(child.pid);
  if (process.env.MEASURE_COMMANDSTATS) await broker.config('RESETSTAT');
  const redis0 = await redisCpuMicros();
  const drainStart = performance.now();
  await broker.rename('bench.hold', 'bench');
  let loadRssMb = idleRssMb;
  while ((await results.dbsize()) < total) {
    loadRssMb = Math.max(loadRssMb, rssMb(child.pid));
    await sleep(5);
  }
  const drainPerSec = total / ((performance.now() - drainStart) / 1000);
  const workerUs = (cpuMicros(child.pid) - worker0) / total;
  const redisUs = ((await redisCpuMicros()) - redis0) / total;
  if (process.env.MEASURE_COMMANDSTATS) {
    // Redis time per drained task by command (a script's time includes the commands it calls).
    const perTask = {};
    for (const m of (await broker.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
      perTask[m[1]] = {
        calls_per_task: Number((m[2] / total).toFixed(3)),
        usec_per_task: Number((m[3] / total).toFixed(2)),
      };
    }
    console.log(JSON.stringify({ round, commandstats_drain: perTask }));
  }

  await sleep(500);
  for (let i = 0; i < 200; i++) await (await noop.delay()).get({ timeout: 5000 });
  if (process.env.MEASURE_COMMANDSTATS) await broker.config('RESETSTAT');
  const calls0 = await redisCalls();
  const loneWorker0 = cpuMicros(child.pid);
  const loneClient0 = process.cpuUsage();
  const lone = [];
  for (let i = 0; i < loneN; i++) {
    const start = performance.now();
    await (await noop.delay()).get({ timeout: 5000 });
    lone.push(performance.now() - start);
  }
  const loneWorkerUs = (cpuMicros(child.pid) - loneWorker0) / loneN;
  const loneClientCpu = process.cpuUsage(loneClient0);
  const loneClientUs = (loneClientCpu.user + loneClientCpu.system) / loneN;
  // The INFO of the first reading counts itself.
  const commandsPerRt = ((await redisCalls()) - calls0 - 1) / loneN;
  lone.sort((a, b) => a - b);
  if (process.env.MEASURE_COMMANDSTATS) {
    const perRt = {};
    for (const m of (await broker.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
      perRt[m[1]] = Number((m[2] / loneN).toFixed(2));
    }
    console.log(JSON.stringify({ round, commands_per_lone_rt: perRt }));
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const row = {
    round,
    spawn_ready_ms: Math.round(readyMs),
    ready_cpu_ms: Math.round(readyCpuMs),
    rss_idle_mb: Number(idleRssMb.toFixed(1)),
    rss_load_mb: Number(loadRssMb.toFixed(1)),
    drain_per_s: Math.round(drainPerSec),
    worker_us_per_task: Number(workerUs.toFixed(1)),
    redis_us_per_task: Number(redisUs.toFixed(1)),
    lone_p50_ms: Number(pct(lone, 50).toFixed(3)),
    lone_p99_ms: Number(pct(lone, 99).toFixed(3)),
    redis_commands_per_lone_rt: Number(commandsPerRt.toFixed(1)),
    worker_us_per_lone_rt: Math.round(loneWorkerUs),
    client_us_per_lone_rt: Math.round(loneClientUs),
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const medians = {};
for (const key of Object.keys(rows[0])) {
  if (key !== 'round' && key !== 'loadavg') medians[key] = median(rows.map((r) => r[key]));
}
console.log(JSON.stringify({ medians_of_rounds: rounds, ...medians }, null, 2));
await app.close();
broker.disconnect();
results.disconnect();
redis.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });
