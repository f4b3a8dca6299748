// Config center long-poll fan-out benchmark.
//   node bench/center/run.mjs [--clients 1000] [--writes 20]
// One center process (file store), 1,000 long-polls held by a separate client process, then a
// write to the group every node is in: time from the write to the 1,000th answer, and the
// center's memory with the long-polls held vs idle.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { clients: { type: 'string', default: '1000' }, writes: { type: 'string', default: '20' } },
});
const CLIENTS = Number(values.clients);
const WRITES = Number(values.writes);
const HERE = import.meta.dirname;
const ROOT = path.resolve(HERE, '../..');
const TOKEN = 'bench-admin-token-0123456789abcdef';
const now = () => performance.timeOrigin + performance.now();

execFileSync('npx', ['tsc', '-b', 'config-center'], { cwd: ROOT, stdio: 'inherit' });

const center = fork(path.join(HERE, 'center-process.mjs'), [], {
  execArgv: [
    '--expose-gc',
    ...(process.env.CENTER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CENTER_CPU_PROF}`] : []),
  ],
  env: { ...process.env, CELERIAC_ADMIN_TOKEN: TOKEN },
});
const [{ url }] = await once(center, 'message');

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

async function memory() {
  center.send({ type: 'memory' });
  const [usage] = await once(center, 'message');
  return usage;
}

async function held() {
  const text = await call('GET', '/metrics');
  return Number(/celeriac_center_long_polls_held (\d+)/.exec(text)[1]);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

// Set-up: defaults with a worker program, one group, CLIENTS node layers in that group.
await call('PUT', '/v1/layers/defaults', {
  celery: { broker_url: 'redis://127.0.0.1:6379/0', task_default_queue: 'celery' },
  programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'], concurrency: 8 } },
});
let groupRevision = (await call('PUT', '/v1/layers/groups/fleet', { celery: { result_expires: 0 } })).revision;
const setupStarted = now();
for (let i = 0; i < CLIENTS; i += 20) {
  await Promise.all(
    Array.from({ length: Math.min(20, CLIENTS - i) }, (_, j) =>
      call('PUT', `/v1/layers/nodes/node-${i + j}`, { groups: ['fleet'] }),
    ),
  );
}
const setupMs = now() - setupStarted;
await new Promise((resolve) => setTimeout(resolve, 500));
const idle = await memory();

const clients = fork(path.join(HERE, 'clients.mjs'), [url, TOKEN, String(CLIENTS), '55']);
await once(clients, 'message');

const fromResponse = [];
const fromRequest = [];
const writeMs = [];
const medianAnswer = [];
let loaded;
for (let k = 0; k < WRITES; k++) {
  const head = (await call('GET', '/healthz')).revision;
  clients.send({ type: 'poll', after: head });
  const deadline = Date.now() + 30_000;
  while ((await held()) < CLIENTS) {
    if (Date.now() > deadline) throw new Error('the long-polls were not all held within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (k === 0) loaded = await memory();
  const answered = once(clients, 'message');
  const sent = now();
  const write = await call(
    'PUT',
    '/v1/layers/groups/fleet',
    { celery: { result_expires: k + 1 } },
    { 'if-match': String(groupRevision) },
  );
  const responded = now();
  groupRevision = write.revision;
  const [result] = await answered;
  if (!result.statuses.every((s) => s === 200) || !result.revisions.every((r) => r === write.revision)) {
    throw new Error(`write ${k}: not every long-poll got revision ${write.revision}`);
  }
  const last = Math.max(...result.times);
  fromResponse.push(last - responded);
  fromRequest.push(last - sent);
  writeMs.push(responded - sent);
  medianAnswer.push(quantile(result.times, 0.5) - sent);
}

const ms = (v) => `${v.toFixed(1)} ms`;
const mb = (v) => `${(v / 1024 / 1024).toFixed(1)} MB`;
console.log(`\nceleriac center long-poll fan-out: ${CLIENTS} long-polls, ${WRITES} writes to a group all nodes are in`);
console.log(`command: node bench/center/run.mjs --clients ${CLIENTS} --writes ${WRITES}`);
console.log(
  `machine: ${os.cpus().length} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `set-up: ${CLIENTS} node layers written in ${ms(setupMs)} (${((CLIENTS / setupMs) * 1000).toFixed(0)} writes/s, fsync each)`,
);
console.log(
  `write request -> response (validates ${CLIENTS} effective configs, fsync): p50 ${ms(quantile(writeMs, 0.5))}, p99 ${ms(quantile(writeMs, 0.99))}`,
);
console.log(
  `write response -> ${CLIENTS}th answer: p50 ${ms(quantile(fromResponse, 0.5))}, p99 ${ms(quantile(fromResponse, 0.99))}`,
);
console.log(
  `write request  -> ${CLIENTS}th answer: p50 ${ms(quantile(fromRequest, 0.5))}, p99 ${ms(quantile(fromRequest, 0.99))}`,
);
console.log(`write request  -> median answer:  p50 ${ms(quantile(medianAnswer, 0.5))}`);
console.log(`center memory idle: rss ${mb(idle.rss)}, heap ${mb(idle.heapUsed)}`);
console.log(
  `center memory with ${CLIENTS} held: rss ${mb(loaded.rss)}, heap ${mb(loaded.heapUsed)} (+${mb(loaded.rss - idle.rss)} rss, +${mb(loaded.heapUsed - idle.heapUsed)} heap)`,
);

clients.send({ type: 'stop' });
center.send({ type: 'stop' });
await Promise.all([once(clients, 'exit'), once(center, 'exit')]);
