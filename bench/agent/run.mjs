// Agent benchmark: config write → every affected worker consuming on the new config (p50/p99 over
// 20 changes, idle and under load), and throughput sampled every 100 ms during rolling restarts.
// Runs real programs: redis-server, `celeriac center`, `celeriac agent` with a celeriac-worker
// program. Needs `npm run build` first. Usage: node bench/agent/run.mjs [--replicas 2] [--changes 20]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '2' },
    changes: { type: 'string', default: '20' },
    'load-changes': { type: 'string', default: '5' },
  },
});
const REPLICAS = Number(values.replicas);
const CHANGES = Number(values.changes);
const LOAD_CHANGES = Number(values['load-changes']);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'apps/cli/bin/celeriac.js');
const TASKS = path.join(ROOT, 'bench/agent/tasks.mjs');
const ADMIN = 'bench-agent-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-bench-agent-'));
const stateDir = path.join(dir, 'agent');
const children = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(check, timeoutMs = 30_000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} not met in ${timeoutMs} ms`);
    await sleep(5);
  }
}

function run(file, args, log) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (c) => out.push(c));
  child.stderr.on('data', (c) => out.push(c));
  child.on('exit', () => {
    if (existsSync(dir)) writeFileSync(path.join(dir, `${log}.log`), Buffer.concat(out));
  });
  children.push(child);
  return child;
}

async function api(method, route, body, headers = {}, token = ADMIN) {
  const res = await fetch(`${centerUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, etag: res.headers.get('etag') };
}

function readyPids() {
  const ready = path.join(stateDir, 'programs', 'w', 'ready');
  if (!existsSync(ready)) return [];
  return readdirSync(ready)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => {
      try {
        const v = JSON.parse(readFileSync(path.join(ready, f), 'utf8'));
        return { pid: v.pid, at: Date.parse(v.ready_at) };
      } catch {
        return undefined;
      }
    })
    .filter(Boolean);
}

function livePids() {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, 'children.json'), 'utf8')).map((c) => c.pid);
  } catch {
    return [];
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

let centerUrl = '';
let change = 0;

/** One config change that restarts the workers; resolves with its timings. */
async function oneChange() {
  change += 1;
  const before = new Set(readyPids().map((r) => r.pid));
  const layer = await api('GET', '/v1/layers/nodes/bench');
  const doc = layer.body.document;
  doc.celery = { task_annotations: { 'bench.other': { rate_limit: `${change}/s` } } };
  const t0 = Date.now();
  const res = await api('PUT', '/v1/layers/nodes/bench', doc, {
    'if-match': layer.etag,
    'x-change-message': `bench ${change}`,
  });
  if (res.status !== 200) throw new Error(`write failed: ${res.status} ${JSON.stringify(res.body)}`);
  const revision = res.body.revision;
  const fresh = await until(
    async () => {
      const r = readyPids().filter((x) => !before.has(x.pid));
      return r.length === REPLICAS ? r : undefined;
    },
    30_000,
    'new workers ready',
  );
  const readyMs = Math.max(...fresh.map((r) => r.at)) - t0;
  await until(async () => (await api('GET', '/v1/nodes/bench')).body.applied_revision >= revision, 30_000, 'applied');
  const reportedMs = Date.now() - t0;
  await until(async () => livePids().length === REPLICAS, 30_000, 'old workers gone');
  const doneMs = Date.now() - t0;
  return { t0, readyMs, reportedMs, doneMs };
}

const redisPort = await freePort();
const redisServer = spawn(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  { stdio: 'ignore' },
);
children.push(redisServer);
const brokerUrl = `redis://127.0.0.1:${redisPort}/0`;
const resultBackend = `redis://127.0.0.1:${redisPort}/1`;
const centerPort = await freePort();
centerUrl = `http://127.0.0.1:${centerPort}`;
writeFileSync(path.join(dir, 'admin-token'), ADMIN);
const loadStart = Number(loadavg()[0].toFixed(2));
let failed = false;

try {
  run(
    process.execPath,
    [
      CLI,
      'center',
      '--data',
      path.join(dir, 'center'),
      '--listen',
      `127.0.0.1:${centerPort}`,
      '--admin-token-file',
      path.join(dir, 'admin-token'),
    ],
    'center',
  );
  await until(async () => (await fetch(`${centerUrl}/healthz`)).ok, 20_000, 'center up');
  const token = (await api('POST', '/v1/tokens', { role: 'agent', node: 'bench', name: 'bench' })).body.token;
  await api('PUT', '/v1/layers/defaults', {
    celery: {
      broker_url: brokerUrl,
      result_backend: resultBackend,
      task_default_queue: 'celery',
      task_ignore_result: true,
    },
  });
  await api('PUT', '/v1/layers/nodes/bench', {
    programs: {
      w: {
        kind: 'celeriac-worker',
        app: TASKS,
        queues: ['celery'],
        replicas: REPLICAS,
        concurrency: 32,
        stop_timeout: '10s',
      },
    },
  });
  run(
    process.execPath,
    [
      CLI,
      'agent',
      '--center',
      centerUrl,
      '--node',
      'bench',
      '--token',
      token,
      '--state-dir',
      stateDir,
      '--heartbeat',
      '1s',
    ],
    'agent',
  );
  await until(async () => readyPids().length === REPLICAS, 30_000, 'workers up');

  const idle = [];
  for (let i = 0; i < CHANGES; i++) {
    idle.push(await oneChange());
    await sleep(200);
  }

  // Under load: a producer keeps a backlog; completions are sampled every 100 ms.
  const db = new Redis(brokerUrl);
  const producer = new Celeriac('bench-producer', {
    broker_url: brokerUrl,
    result_backend: resultBackend,
    task_ignore_result: true,
  });
  const noop = producer.task('bench.noop', () => undefined, { ignore_result: true });
  let producing = true;
  const produce = (async () => {
    while (producing) {
      if ((await db.llen('celery')) < 5000) await noop.applyMany(Array.from({ length: 1000 }, () => []));
      else await sleep(20);
    }
  })();
  const samples = [];
  let last = Number(await db.get('bench:done')) || 0;
  const sampler = setInterval(async () => {
    const now = Number(await db.get('bench:done')) || 0;
    samples.push({ at: Date.now(), n: now - last });
    last = now;
  }, 100);
  await sleep(2000);
  const loaded = [];
  for (let i = 0; i < LOAD_CHANGES; i++) {
    loaded.push(await oneChange());
    await sleep(1500);
  }
  clearInterval(sampler);
  producing = false;
  await produce;
  await producer.close();
  db.disconnect();

  const windows = loaded.map((c) => samples.filter((s) => s.at >= c.t0 && s.at <= c.t0 + c.doneMs + 100));
  const minPer100 = Math.min(...windows.flat().map((s) => s.n));
  const steady = samples.filter((s) => !loaded.some((c) => s.at >= c.t0 && s.at <= c.t0 + c.doneMs + 100));
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const stats = (list, key) => {
    const xs = list.map((c) => c[key]).sort((a, b) => a - b);
    return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.at(-1) };
  };
  const result = {
    loadAverage1m: { start: loadStart, end: Number(loadavg()[0].toFixed(2)) },
    replicas: REPLICAS,
    idle: {
      changes: idle.length,
      ready: stats(idle, 'readyMs'),
      reported: stats(idle, 'reportedMs'),
      oldGone: stats(idle, 'doneMs'),
    },
    load: {
      changes: loaded.length,
      ready: stats(loaded, 'readyMs'),
      reported: stats(loaded, 'reportedMs'),
      throughputPer100ms: {
        steadyAvg: Math.round(avg(steady.map((s) => s.n))),
        duringRestartAvg: Math.round(avg(windows.flat().map((s) => s.n))),
        duringRestartMin: minPer100,
        zeroSamplesDuringRestart: windows.flat().filter((s) => s.n === 0).length,
        samplesDuringRestart: windows.flat().length,
      },
    },
  };
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  failed = true;
  console.error(`bench failed: ${error.message}; logs kept in ${dir}`);
  process.exitCode = 1;
} finally {
  for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
  await sleep(1500);
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sleep(100);
  if (!failed) rmSync(dir, { recursive: true, force: true });
}
