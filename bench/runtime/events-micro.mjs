// Task-event cost alone: task-received + task-started + task-succeeded of one task through the
// worker's TaskEvents and EventDispatcher (publish stubbed), CPU µs per task, median of 7 rounds of
// 100,000 tasks. Compare checkouts (built) in one sitting: node bench/runtime/events-micro.mjs <root> [<root> ...]
// With --redis the events are PUBLISHed for real (ioredis to a redis-server of the bench's own), so
// the figure includes what ioredis and the socket cost in the worker's process. --batch <n> sets the
// events per task.multi list. Results and what they led to: bench/runtime.md, "Task events".
import path from 'node:path';
import { startRedis } from './lib/redis-server.mjs';

const realRedis = process.argv.includes('--redis');
// --batch <n>: events per task.multi list (the dispatcher's batchSize), to compare list sizes.
const batchAt = process.argv.indexOf('--batch');
const batchSize = batchAt > 0 ? Number(process.argv[batchAt + 1]) : undefined;
const server = realRedis ? await startRedis() : undefined;
for (const root of process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--batch')
  .map((a) => path.resolve(a))) {
  const { EventDispatcher } = await import(`${root}/libs/control-plane/dist/index.js`);
  const { TaskEvents } = await import(`${root}/libs/worker-runtime/dist/task-events.js`);
  const sink = { n: 0, bytes: 0 };
  const fake = {
    // A checkout that PUBLISHes each list alone, or one that pipelines them.
    async publish(_channel, env) {
      sink.n++;
      sink.bytes += env.length;
      return 0;
    },
    pipeline() {
      const p = {
        publish(_channel, env) {
          sink.n++;
          sink.bytes += env.length;
          return p;
        },
        exec: async () => [],
      };
      return p;
    },
  };
  const log = {
    info() {},
    warn() {},
    debug() {},
    error() {},
    child() {
      return log;
    },
  };
  let redis = fake;
  if (server !== undefined) {
    const { Redis } = await import(`${root}/node_modules/ioredis/built/index.js`);
    redis = new Redis(server.url(0));
    await redis.ping();
  }
  const d = new EventDispatcher({
    url: 'redis://127.0.0.1:1/0',
    hostname: 'celeriac-events-c100@bench',
    logger: log,
    redis,
    taskEvents: true,
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
  const ev = new TaskEvents(d);
  const m = {
    id: '',
    task: 'tasks.noop',
    args: [],
    kwargs: {},
    headers: { argsrepr: '()', kwargsrepr: '{}' },
    rootId: null,
    parentId: null,
    retries: 0,
    eta: null,
    expires: null,
  };
  const ids = Array.from({ length: 1000 }, (_, i) => `0b5f${String(i).padStart(4, '0')}-4a1c-4e3a-9d2b-6c1e2f3a4b5c`);
  async function round(n) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      m.id = ids[i % 1000];
      ev.received(m);
      ev.started(m.id);
      ev.succeeded(m.id, null, 0.000123);
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await d.flush();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  }
  await round(50000);
  const r = [];
  for (let k = 0; k < 7; k++) r.push(await round(100000));
  r.sort((a, b) => a - b);
  console.log(
    realRedis
      ? `${root}: ${r[3].toFixed(2)} µs/task (median of 7, PUBLISH to redis-server), min ${r[0].toFixed(2)}`
      : `${root}: ${r[3].toFixed(2)} µs/task (median of 7), min ${r[0].toFixed(2)}; ${sink.n} publishes, ${(sink.bytes / sink.n / 1024).toFixed(1)} KB each`,
  );
  if (redis !== fake) redis.disconnect();
}
await server?.stop();
