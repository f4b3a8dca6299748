// Enqueue speed of the client: a `delay` loop and `applyMany`, 50,000 tasks a round, on a private
// redis-server. Build first (`npx tsc -b libs/client`), then: node libs/client/bench/enqueue.mjs
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { Celeriac } from '../dist/index.js';

const N = 50_000;
const ROUNDS = 5;

async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port) {
  for (let i = 0; i < 250; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('redis-server did not start');
}

const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await waitForPort(port);
const app = new Celeriac('bench', { broker_url: `redis://127.0.0.1:${port}/0` });
const add = app.task('tasks.add', (a) => a);
await add.delay(0);

const inspect = new Redis(`redis://127.0.0.1:${port}/0`);

async function measure(label, fn) {
  await inspect.del('celery');
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const perTask = (used.user + used.system) / N;
  console.log(
    `${label.padEnd(10)} ${Math.round(N / seconds).toLocaleString('en')} tasks/s, ${perTask.toFixed(1)} µs Node CPU a task`,
  );
}

for (let round = 0; round < ROUNDS; round++) {
  await measure('delay loop', () => {
    const promises = [];
    for (let i = 0; i < N; i++) promises.push(add.delay(i));
    return Promise.all(promises);
  });
  await measure('applyMany', () => add.applyMany(Array.from({ length: N }, (_, i) => [i])));
}
await app.close();
inspect.disconnect();
redis.kill();
