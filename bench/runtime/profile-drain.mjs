// CPU profile of one celeriac drain: starts its own redis-server, enqueues N no-op tasks, runs
// `celeriac worker` under `node --cpu-prof` (with -E when told), waits until every result is
// stored, stops the worker warm (the profile is written at exit) and prints the functions with the
// most self time, by share of the worker's samples, plus the worker CPU per task.
//   node bench/runtime/profile-drain.mjs [--events] [--n 40000] [--top 30] [--dir /tmp/celeriac-prof] [--interval 1000]
// (--interval: µs between samples, node's --cpu-prof-interval; 100 gives ten times the samples.
// --trace-gc: the worker runs with node's --trace-gc, and the scavenges and mark-compacts of the
// drain, with their pause time, are added up and printed. --threads: the worker's CPU in the drain
// per thread, from /proc/<pid>/task, so the main thread is told apart from V8's helper threads.)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { cpuSec } from './lib/processes.mjs';
import { startRedis } from './lib/redis-server.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const N = Number(opt('n', 40_000));
const TOP = Number(opt('top', 30));
const PROF_DIR = opt('dir', path.join(tmpdir(), 'celeriac-prof'));
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const redis = await startRedis();
process.env.BENCH_BROKER_URL = redis.url(0);
process.env.BENCH_RESULT_BACKEND = redis.url(1);
const { noop, app } = await import(path.join(ROOT, 'bench/runtime/celeriac-tasks.mjs'));
const broker = new Redis(redis.url(0));
const backend = new Redis(redis.url(1));
for (let i = 0; i < N; i += 10_000) await noop.applyMany(Array.from({ length: Math.min(10_000, N - i) }, () => []));
await broker.rename('bench', 'bench.hold');
rmSync(PROF_DIR, { recursive: true, force: true });
mkdirSync(PROF_DIR, { recursive: true });
const readyFile = path.join(tmpdir(), `celeriac-prof-ready-${process.pid}.json`);
rmSync(readyFile, { force: true });
const args = [
  ...(flag('trace-gc') ? ['--trace-gc'] : []),
  '--cpu-prof',
  '--cpu-prof-interval',
  opt('interval', '1000'),
  '--cpu-prof-dir',
  PROF_DIR,
  path.join(ROOT, 'apps/cli/bin/celeriac.js'),
  'worker',
];
args.push('-A', path.join(ROOT, 'bench/runtime/celeriac-tasks.mjs'), '-Q', 'bench', '-c', '100', '-l', 'warn');
args.push('-n', 'prof@bench', '--ready-file', readyFile, ...(flag('events') ? ['-E'] : []));
const worker = spawn(process.execPath, args, {
  stdio: ['ignore', flag('trace-gc') ? 'pipe' : 'inherit', 'inherit'],
  env: process.env,
});
/** GC lines of --trace-gc while the drain runs: `[pid:addr] 1234 ms: Scavenge 12.1 (…) -> … , 0.8 / 0.0 ms …`. */
const gc = { draining: false, Scavenge: { n: 0, ms: 0 }, 'Mark-Compact': { n: 0, ms: 0 } };
if (flag('trace-gc')) {
  let rest = '';
  worker.stdout.setEncoding('utf8').on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const m = /ms: (Scavenge|Mark-Compact)[^,]*, ([\d.]+) \/ /.exec(line);
      if (m === null) process.stdout.write(`${line}\n`);
      else if (gc.draining) {
        gc[m[1]].n++;
        gc[m[1]].ms += Number(m[2]);
      }
    }
  });
}
while (!existsSync(readyFile)) await new Promise((r) => setTimeout(r, 5));
await new Promise((r) => setTimeout(r, 500));
const threads0 = flag('threads') ? threadTicks(worker.pid) : null;
const cpu0 = cpuSec([worker.pid]);
gc.draining = true;
const t0 = performance.now();
await broker.rename('bench.hold', 'bench');
while ((await backend.dbsize()) < N) await new Promise((r) => setTimeout(r, 5));
const drainMs = performance.now() - t0;
const cpu = cpuSec([worker.pid]) - cpu0;
const threads1 = threads0 === null ? null : threadTicks(worker.pid);
gc.draining = false;
worker.kill('SIGTERM');
await new Promise((r) => worker.once('exit', r));
await app.close();
broker.disconnect();
backend.disconnect();
await redis.stop();

const file = readdirSync(PROF_DIR).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(path.join(PROF_DIR, file), 'utf8'));
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
let total = 0;
for (const [id, count] of counts) {
  const n = byId.get(id);
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(libs|apps|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + count);
  total += count;
}
const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((s, [, c]) => s + c, 0);
console.log(
  `drain of ${N}${flag('events') ? ' with -E' : ''}: ${Math.round(N / (drainMs / 1000))}/s, worker CPU ${((cpu * 1e6) / N).toFixed(1)} µs/task; profile ${file} (${total} samples, ${idle} idle); top self time of the busy samples:`,
);
if (flag('trace-gc')) {
  const line = (kind) =>
    `${gc[kind].n} ${kind}s, ${gc[kind].ms.toFixed(0)} ms (${((gc[kind].ms * 1000) / N).toFixed(2)} µs/task)`;
  console.log(`GC during the drain: ${line('Scavenge')}; ${line('Mark-Compact')}`);
}
if (threads0 !== null && threads1 !== null) {
  const perTask = (ticks) => ((ticks * 1e4) / N).toFixed(2); // clock ticks of 10 ms
  for (const [thread, [user, sys]] of threads1) {
    const [user0, sys0] = threads0.get(thread) ?? [0, 0];
    if (user - user0 + sys - sys0 > 0) {
      console.log(`thread ${thread}: user ${perTask(user - user0)}, sys ${perTask(sys - sys0)} µs/task`);
    }
  }
}
for (const [key, count] of [...self]
  .filter(([k]) => !k.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, TOP)) {
  console.log(`${((100 * count) / (total - idle)).toFixed(1).padStart(5)} %  ${key}`);
}

/** User and system clock ticks of each thread of `pid`, by "<tid> <name>" (the main thread has the pid as its tid). */
function threadTicks(pid) {
  const ticks = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(`${tid} ${name}`, [Number(fields[11]), Number(fields[12])]);
  }
  return ticks;
}
