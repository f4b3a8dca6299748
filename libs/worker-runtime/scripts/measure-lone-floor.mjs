// The machine's floor for a lone task's delay -> get, to compare measure-program.mjs's lone figures
// with: a bare "worker" process (BRPOP, then one EVAL that SETEXes and PUBLISHes the result) and a
// client (LPUSH, then SUBSCRIBE + GET, and GET again once subscribed, done at the first of message or
// value), no Celery work at all.
//   node libs/worker-runtime/scripts/measure-lone-floor.mjs [rounds=3] [roundTrips=2000]
// Starts its own redis-server on a free port. Prints p50/p99 and the CPU both processes spend per
// round trip; the difference to measure-program.mjs's lone figures is what the worker and client add.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

const STORE = "redis.call('SETEX', KEYS[1], 100, ARGV[1]); redis.call('PUBLISH', KEYS[1], ARGV[1]); return 1";

if (process.argv[2] === '--worker') {
  const url = process.argv[3];
  const blocking = new Redis(url);
  const commands = new Redis(url);
  for (;;) {
    const [, id] = await blocking.brpop('floor', 0);
    if (id === 'stop') break;
    await commands.eval(STORE, 1, `floor-result-${id}`, 'done');
  }
  blocking.disconnect();
  commands.disconnect();
  process.exit(0);
}

const rounds = Number(process.argv[2] ?? 3);
const n = Number(process.argv[3] ?? 2000);
const WARM_UP = 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuMicros = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-lone-floor-'));
const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
});
const url = `redis://127.0.0.1:${port}/0`;
const client = new Redis(url, { retryStrategy: () => 20 });
const subscriber = new Redis(url, { retryStrategy: () => 20 });
// Refused connects while redis-server starts are retried.
client.on('error', () => undefined);
subscriber.on('error', () => undefined);
while ((await client.ping().catch(() => '')) !== 'PONG') await sleep(20);

let waiting = null;
subscriber.on('message', (channel) => {
  if (waiting !== null && channel === waiting.channel) waiting.done();
});
const rows = [];
for (let round = 1; round <= rounds; round++) {
  const worker = spawn(process.execPath, [process.argv[1], '--worker', url], { stdio: 'inherit' });
  await sleep(300);
  const times = [];
  let worker0 = 0;
  let client0 = process.cpuUsage();
  for (let i = 0; i < n + WARM_UP; i++) {
    if (i === WARM_UP) {
      worker0 = cpuMicros(worker.pid);
      client0 = process.cpuUsage();
    }
    const id = `${round}-${i}`;
    const channel = `floor-result-${id}`;
    const start = performance.now();
    await client.lpush('floor', id);
    await new Promise((done) => {
      waiting = { channel, done };
      const check = () => client.get(channel).then((value) => value !== null && done());
      // As the real waitFor does: read beside the SUBSCRIBE, and again once subscribed (a result
      // stored between the first read and the subscription is published to nobody).
      subscriber.subscribe(channel).then(check, () => undefined);
      check();
    });
    waiting = null;
    void subscriber.unsubscribe(channel);
    if (i >= WARM_UP) times.push(performance.now() - start);
  }
  const workerUs = (cpuMicros(worker.pid) - worker0) / n;
  const clientCpu = process.cpuUsage(client0);
  await client.lpush('floor', 'stop');
  await new Promise((r) => worker.once('exit', r));
  times.sort((a, b) => a - b);
  const row = {
    round,
    floor_p50_ms: Number(times[Math.floor(n / 2)].toFixed(3)),
    floor_p99_ms: Number(times[Math.min(n - 1, Math.floor(n * 0.99))].toFixed(3)),
    worker_us_per_rt: Math.round(workerUs),
    client_us_per_rt: Math.round((clientCpu.user + clientCpu.system) / n),
    loadavg: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
const medians = {};
for (const key of ['floor_p50_ms', 'floor_p99_ms', 'worker_us_per_rt', 'client_us_per_rt']) {
  medians[key] = median(rows.map((r) => r[key]));
}
console.log(JSON.stringify({ medians_of_rounds: rounds, ...medians }, null, 2));
client.disconnect();
subscriber.disconnect();
server.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });
