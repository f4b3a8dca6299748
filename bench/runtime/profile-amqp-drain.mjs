// CPU profile of one celeriac drain on RabbitMQ: makes its own vhost (lib/rabbitmq-vhost.mjs) and
// redis-server (results), publishes N no-op tasks to the queue `bench`, runs `celeriac worker`
// (under `node --cpu-prof` unless --no-prof) and, from its ready signal on, counts the tasks it
// finishes and the CPU it spends until every result is stored (the queue cannot be held back, see
// lib/backlog.mjs: the tasks finished before ready are left out). Prints the drain rate, the worker
// CPU per task and the functions with the most self time. --root runs another checkout's build
// (before against after); --rounds alternates this checkout and --root round by round.
//   node bench/runtime/profile-amqp-drain.mjs [--n 20000] [--c 100] [--top 30] [--no-prof] [--root <checkout>] [--rounds 1]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { cpuSec } from './lib/processes.mjs';
import { createBenchVhost } from './lib/rabbitmq-vhost.mjs';
import { startRedis } from './lib/redis-server.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const N = Number(opt('n', 20_000));
const C = Number(opt('c', 100));
const TOP = Number(opt('top', 30));
const ROUNDS = Number(opt('rounds', 1));
const PROFILE = !flag('no-prof');
const PROF_DIR = opt('dir', path.join(tmpdir(), 'celeriac-amqp-prof'));
const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OTHER = opt('root', '');

/** The pid of the RabbitMQ listening on 5672 (its CPU is shared with whatever else uses it), or null. */
function rabbitPid() {
  try {
    const out = execFileSync('ss', ['-ltnpH', 'sport = :5672'], { encoding: 'utf8' });
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
const RABBIT = rabbitPid();

const redis = await startRedis();
const vhost = await createBenchVhost();
const backend = new Redis(redis.url(1));
process.env.BENCH_BROKER_URL = vhost.url();
process.env.BENCH_RESULT_BACKEND = redis.url(1);

/** One drain with the build of `root`: rate, CPU per task, and the profile's top self time. */
let drains = 0;
async function drain(root) {
  // A fresh module (and app) per drain: the one before was closed.
  const tasksUrl = `${pathToFileURL(path.join(root, 'bench/runtime/celeriac-tasks.mjs')).href}?drain=${drains++}`;
  const { noop, app } = await import(tasksUrl);
  await backend.flushdb();
  for (let i = 0; i < N; i += 10_000) await noop.applyMany(Array.from({ length: Math.min(10_000, N - i) }, () => []));
  await app.close();
  while ((await vhost.ready('bench')) < N) await new Promise((r) => setTimeout(r, 20));
  rmSync(PROF_DIR, { recursive: true, force: true });
  mkdirSync(PROF_DIR, { recursive: true });
  const readyFile = path.join(tmpdir(), `celeriac-amqp-prof-ready-${process.pid}.json`);
  rmSync(readyFile, { force: true });
  const args = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR] : [];
  args.push(
    path.join(root, 'apps/cli/bin/celeriac.js'),
    'worker',
    '-A',
    path.join(root, 'bench/runtime/celeriac-tasks.mjs'),
  );
  args.push('-Q', 'bench', '-c', String(C), '-l', 'warn', '-n', 'prof@bench', '--ready-file', readyFile);
  const worker = spawn(process.execPath, args, { stdio: 'inherit', env: process.env });
  while (!existsSync(readyFile)) await new Promise((r) => setTimeout(r, 2));
  const cpu0 = cpuSec([worker.pid]);
  const rabbit0 = RABBIT === null ? 0 : cpuSec([RABBIT]);
  const done0 = await backend.dbsize();
  const t0 = performance.now();
  while ((await backend.dbsize()) < N) await new Promise((r) => setTimeout(r, 5));
  const drainMs = performance.now() - t0;
  const cpu = cpuSec([worker.pid]) - cpu0;
  const rabbit = RABBIT === null ? Number.NaN : cpuSec([RABBIT]) - rabbit0;
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  const counted = N - done0;
  const label = root === HERE ? 'this checkout' : root;
  console.log(
    `${label}: drain of ${counted} (of ${N}; ${done0} done before ready): ${Math.round(counted / (drainMs / 1000))}/s, ` +
      `worker CPU ${((cpu * 1e6) / counted).toFixed(1)} µs/task, RabbitMQ CPU ${((rabbit * 1e6) / counted).toFixed(1)} µs/task ` +
      `(shared server); load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  if (PROFILE) printProfile();
}

function printProfile() {
  const file = readdirSync(PROF_DIR).find((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(path.join(PROF_DIR, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (const id of profile.samples) {
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(libs|apps|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    total++;
  }
  const idle = self.get('(idle) :0') ?? 0;
  console.log(
    `  profile ${file}: ${total} samples, ${idle} idle; top self time of the busy ones (whole run, start-up included):`,
  );
  for (const [key, count] of [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)) {
    console.log(`${((100 * count) / (total - idle)).toFixed(1).padStart(7)} %  ${key}`);
  }
}

try {
  for (let round = 0; round < ROUNDS; round++) {
    const roots = OTHER === '' ? [HERE] : round % 2 === 0 ? [HERE, path.resolve(OTHER)] : [path.resolve(OTHER), HERE];
    for (const root of roots) await drain(root);
  }
} finally {
  backend.disconnect();
  await vhost.delete();
  await redis.stop();
}
