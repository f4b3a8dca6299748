// Config center long-poll fan-out benchmark.
//   node bench/center/run.mjs [--clients 1000] [--writes 20] [--procs 2] [--follow 10] [--center-dist dir] [--http-setup]
//     [--center-flags="--max-semi-space-size=32"] [--connection close|keep-alive|socket] [--pin]
// One center process (file store), N long-polls held by separate client processes, each of which
// first fetches its current config once, as an agent does when it starts. `--connection socket`,
// the default: a fresh connection per long-poll with `Connection: close`, as real agents make, read
// by a bare socket; `close`: the same through node:http (whose tens of µs per answer, times 2,500
// simulated agents on one core, become part of the figure); `keep-alive`: one keep-alive agent per
// client process. `--pin`: the center on CPU 0, the clients on CPU 1
// (taskset), as if the center had a host of its own. Fan-out: once all N are held, a write to the group every node is in; the time
// from the write request to the N-th answer, over `--writes` rounds. Follow: every client polls
// like an agent (re-polls at once after each answer) while `--follow` revisions are written
// back to back as fast as the center takes them; a client that never saw one of them skipped it.
// Memory: RSS of the center idle (after a GC), with N held, and the peak sampled every 50 ms.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '20' },
    procs: { type: 'string', default: '2' },
    follow: { type: 'string', default: '10' },
    'center-dist': { type: 'string' },
    'http-setup': { type: 'boolean', default: false },
    // Extra V8/Node flags for the center process only, e.g. --center-flags=--max-semi-space-size=32
    'center-flags': { type: 'string', default: '' },
    connection: { type: 'string', default: 'socket' },
    pin: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const WRITES = Number(values.writes);
const PROCS = Math.max(1, Number(values.procs));
const FOLLOW = Number(values.follow);
const CONNECTION = values.connection;
if (!['close', 'keep-alive', 'socket'].includes(CONNECTION))
  throw new Error(`--connection is close, keep-alive or socket, not ${JSON.stringify(CONNECTION)}`);
// Pinned: pins a forked process (and its threads) to one CPU once it is running.
const pin = (child, cpu) => {
  if (values.pin) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(child.pid)], { stdio: 'ignore' });
};
const HERE = import.meta.dirname;
const ROOT = path.resolve(HERE, '../..');
const TOKEN = 'bench-admin-token-0123456789abcdef';
const now = () => performance.timeOrigin + performance.now();
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

if (!values['center-dist']) execFileSync('npx', ['tsc', '-b', 'config-center'], { cwd: ROOT, stdio: 'inherit' });
const loadAtStart = loadavg();

const center = fork(path.join(HERE, 'center-process.mjs'), [], {
  execArgv: [
    '--expose-gc',
    ...values['center-flags'].split(' ').filter(Boolean),
    ...(process.env.CENTER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CENTER_CPU_PROF}`] : []),
  ],
  env: {
    ...process.env,
    CELERIAC_ADMIN_TOKEN: TOKEN,
    ...(values['http-setup'] ? {} : { BENCH_SEED_NODES: String(CLIENTS) }),
    ...(values['center-dist'] ? { CENTER_DIST: path.resolve(values['center-dist']) } : {}),
  },
});
const [{ url }] = await once(center, 'message');
pin(center, 0);
pin(process, 1);
const clients = [];
// A failed run must not leave the center or the clients running (they hold this stdout open).
process.on('exit', () => {
  for (const child of [center, ...clients]) if (child.exitCode === null) child.kill('SIGKILL');
});
process.on('uncaughtException', (error) => {
  console.error(error);
  process.exit(1);
});

async function call(method, urlPath, body, headers = {}) {
  const response = await fetch(`${url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
  return text.length > 0 && text.startsWith('{') ? JSON.parse(text) : text;
}

async function ask(type, extra = {}) {
  center.send({ type, ...extra });
  const [answer] = await once(center, 'message');
  return answer;
}

async function held() {
  const text = await call('GET', '/metrics');
  return Number(/celeriac_center_long_polls_held (\d+)/.exec(text)[1]);
}

async function waitHeld(count) {
  const deadline = Date.now() + 300_000;
  while ((await held()) < count) {
    if (Date.now() > deadline) throw new Error(`the long-polls were not all held within 300 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const quantile = (list, q) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

// Set-up: defaults with a worker program, one group, CLIENTS node layers in that group: seeded as
// the revision log by the center process, or with --http-setup written over HTTP (slow: an fsync each).
const setupStarted = now();
if (values['http-setup']) {
  await call('PUT', '/v1/layers/defaults', {
    celery: { broker_url: 'redis://127.0.0.1:6379/0', task_default_queue: 'celery' },
    programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'], concurrency: 8 } },
  });
  await call('PUT', '/v1/layers/groups/fleet', { celery: { result_expires: 0 } });
  for (let i = 0; i < CLIENTS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, CLIENTS - i) }, (_, j) =>
        call('PUT', `/v1/layers/nodes/node-${i + j}`, { groups: ['fleet'] }),
      ),
    );
  }
}
let groupRevision = (await call('GET', '/v1/layers/groups/fleet')).revision;
const setupMs = now() - setupStarted;
await new Promise((resolve) => setTimeout(resolve, 500));
const idle = await ask('memory');

const share = Math.ceil(CLIENTS / PROCS);
for (let p = 0; p < PROCS; p++) {
  const first = p * share;
  const count = Math.min(share, CLIENTS - first);
  if (count <= 0) break;
  const child = fork(path.join(HERE, 'clients.mjs'), [url, TOKEN, String(first), String(count), '55', CONNECTION]);
  await once(child, 'message');
  pin(child, 1);
  clients.push(child);
}
const gather = () => Promise.all(clients.map((c) => once(c, 'message').then(([m]) => m)));
const groupWrite = async (k) => {
  const write = await call(
    'PUT',
    '/v1/layers/groups/fleet',
    { celery: { result_expires: k } },
    { 'if-match': String(groupRevision) },
  );
  groupRevision = write.revision;
  return write;
};

const fromRequest = [];
const writeMs = [];
const medianAnswer = [];
const firstAnswer = [];
const cpuMs = [];
let loaded;
let peakRss = 0;
// Peak RSS apart while the N long-polls arrive and while the write is answered.
let arrivalPeak = 0;
let fanOutPeak = 0;
let peakHeap = 0;
let k = 0;
for (let round = 0; round < WRITES; round++) {
  const head = (await call('GET', '/healthz')).revision;
  const answered = gather();
  await ask('peak');
  for (const c of clients) c.send({ type: 'poll', after: head });
  await waitHeld(CLIENTS);
  const arrived = await ask('peak');
  arrivalPeak = Math.max(arrivalPeak, arrived.rss);
  peakHeap = Math.max(peakHeap, arrived.heapTotal);
  if (round === 0) {
    loaded = await ask('memory');
    if (process.env.CENTER_HEAP_SNAPSHOT)
      await ask('snapshot', { file: path.resolve(process.env.CENTER_HEAP_SNAPSHOT) });
  }
  const cpuBefore = (await ask('cpu', { profile: 'start' })).ms;
  const sent = now();
  const write = await groupWrite(++k);
  const responded = now();
  const results = await answered;
  cpuMs.push((await ask('cpu', { profile: 'stop' })).ms - cpuBefore);
  const answeredPeak = await ask('peak');
  fanOutPeak = Math.max(fanOutPeak, answeredPeak.rss);
  peakHeap = Math.max(peakHeap, answeredPeak.heapTotal);
  const times = results.flatMap((r) => r.times);
  const ok = results.every((r) => r.statuses.every((s) => s === 200) && r.revisions.every((v) => v === write.revision));
  if (!ok) throw new Error(`round ${round}: not every long-poll got revision ${write.revision}`);
  fromRequest.push(Math.max(...times) - sent);
  writeMs.push(responded - sent);
  medianAnswer.push(quantile(times, 0.5) - sent);
  firstAnswer.push(Math.min(...times) - sent);
}
peakRss = Math.max(arrivalPeak, fanOutPeak);

const ms = (v) => `${v.toFixed(1)} ms`;
const mb = (v) => `${(v / 1024 / 1024).toFixed(1)} MB`;
console.log(
  `\nceleriac center long-poll fan-out: ${CLIENTS} long-polls in ${clients.length} client processes, ${WRITES} writes to a group all nodes are in`,
);
console.log(
  `command: node bench/center/run.mjs --clients ${CLIENTS} --writes ${WRITES} --procs ${PROCS} --follow ${FOLLOW} --connection ${CONNECTION}${values.pin ? ' --pin' : ''}${values['center-dist'] ? ` --center-dist ${values['center-dist']}` : ''}${values['center-flags'] ? ` --center-flags=${values['center-flags']}` : ''}`,
);
console.log(`load average (/proc/loadavg): ${loadAtStart} at start, ${loadavg()} at end`);
console.log(
  `set-up: ${CLIENTS} node layers ${values['http-setup'] ? `written over HTTP in ${ms(setupMs)}` : 'seeded as the revision log'}`,
);
console.log(`write request -> response: p50 ${ms(quantile(writeMs, 0.5))}, p99 ${ms(quantile(writeMs, 0.99))}`);
console.log(
  `write request -> last (${CLIENTS}th) answer: p50 ${ms(quantile(fromRequest, 0.5))}, p99 ${ms(quantile(fromRequest, 0.99))}, max ${ms(Math.max(...fromRequest))}`,
);
console.log(
  `write request -> first answer: p50 ${ms(quantile(firstAnswer, 0.5))}; -> median answer: p50 ${ms(quantile(medianAnswer, 0.5))}`,
);
console.log(
  `center CPU time per write and its ${CLIENTS} answers (user+sys, less sensitive to other load): p50 ${ms(quantile(cpuMs, 0.5))}, p99 ${ms(quantile(cpuMs, 0.99))}`,
);
console.log(
  `per round (CPU ms / write request -> last answer ms): ${cpuMs.map((c, i) => `${c.toFixed(0)}/${fromRequest[i].toFixed(0)}`).join(' ')}`,
);
console.log(
  `center memory: idle ${mb(idle.rss)} rss (heap ${mb(idle.heapUsed)}); ${CLIENTS} held ${mb(loaded.rss)} rss (heap ${mb(loaded.heapUsed)}); peak ${mb(peakRss)} rss (${mb(arrivalPeak)} while the long-polls arrive, ${mb(fanOutPeak)} while a write is answered; V8 heap total at most ${mb(peakHeap)})`,
);

// Follow: agents re-poll at once; FOLLOW revisions back to back.
let skipped = 0;
let followMs = 0;
if (FOLLOW > 0) {
  const head = (await call('GET', '/healthz')).revision;
  const followed = gather();
  for (const c of clients) c.send({ type: 'follow', after: head, until: head + FOLLOW });
  await waitHeld(CLIENTS);
  const started = now();
  for (let i = 0; i < FOLLOW; i++) await groupWrite(++k);
  const seen = (await followed).flatMap((r) => r.seen);
  followMs = now() - started;
  skipped = seen.filter((list) => list.length < FOLLOW).length;
  peakRss = Math.max(peakRss, (await ask('peak')).rss);
}

if (FOLLOW > 0) {
  console.log(
    `follow: ${FOLLOW} revisions back to back in ${ms(followMs)}; clients that skipped one: ${skipped} of ${CLIENTS}; center peak rss ${mb(peakRss)}`,
  );
}
for (const c of clients) c.send({ type: 'stop' });
center.send({ type: 'stop' });
await Promise.all([...clients.map((c) => once(c, 'exit')), once(center, 'exit')]);
