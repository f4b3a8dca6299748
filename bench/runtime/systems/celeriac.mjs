// Celeriac (this repository, built): `celeriac worker` and the celeriac client.
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { redisBacklog } from '../lib/backlog.mjs';
import { Program } from '../lib/processes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const THIS_CHECKOUT = path.resolve(HERE, '..', '..', '..');
const BATCH = 1000;

/** True when the packages the benchmark needs have been built (`npm run build`) in `root`. */
export function celeriacBuilt(root = THIS_CHECKOUT) {
  return ['apps/cli/dist/bin.js', 'apps/cli/dist/index.js', 'libs/client/dist/index.js'].every((p) =>
    existsSync(path.join(root, p)),
  );
}

/**
 * Celeriac with one worker process running `concurrency` tasks at a time; `n` tasks per drain.
 * With `countdownShare` (e.g. 0.1), that share of the drained tasks carries a `countdownSec`
 * countdown: they are published at the release (so the countdown runs during the drain, not
 * while the worker starts) and the drain ends when they too are done, `countdownSec` later at least.
 * `root` is the checkout whose build runs (this one unless told): another commit's checkout,
 * built, measures before against after in one interleaved run. Worker, tasks and client all
 * come from that checkout. `brokerUrl` (default the benchmark's Redis, db 0) and `backlog`
 * (lib/backlog.mjs; Redis's RENAME unless told) select the broker: an `amqp://` vhost for the
 * RabbitMQ rows, whose results stay on the Redis (db 1).
 */
export function celeriacSystem({
  name,
  redis,
  concurrency,
  n,
  root = THIS_CHECKOUT,
  countdownShare = 0,
  countdownSec = 1,
  workerArgs = [],
  brokerUrl = redis.url(0),
  backlog = redisBacklog,
}) {
  const CLI = path.join(root, 'apps', 'cli', 'bin', 'celeriac.js');
  const TASKS = path.join(root, 'bench', 'runtime', 'celeriac-tasks.mjs');
  const env = { BENCH_BROKER_URL: brokerUrl, BENCH_RESULT_BACKEND: redis.url(1) };
  let tasks;
  const load = async () => {
    if (!tasks) {
      // The tasks module reads its broker when it loads: one module instance per broker URL.
      Object.assign(process.env, env);
      tasks = await import(`${pathToFileURL(TASKS).href}?broker=${encodeURIComponent(brokerUrl)}`);
    }
    return tasks;
  };
  const countdownN = Math.round(n * countdownShare);
  const readyFile = path.join(tmpdir(), `celeriac-bench-ready-${process.pid}.json`);
  return {
    name,
    n,
    startsDraining: backlog.startsDraining,
    purge: (commands) => backlog.purge(commands),
    async enqueue(commands, { quick = false } = {}) {
      const { noop } = await load();
      if (quick) {
        for (let i = 0; i < n - countdownN; i += 10_000) {
          await noop.applyMany(Array.from({ length: Math.min(10_000, n - countdownN - i) }, () => []));
        }
        return { loop: Number.NaN, pipelined: Number.NaN, batch: Number.NaN };
      }
      const loopN = Math.min(n, 20_000);
      let start = performance.now();
      for (let i = 0; i < loopN; i++) await noop.delay();
      const loop = loopN / ((performance.now() - start) / 1000);
      await backlog.purge(commands);
      start = performance.now();
      const pending = [];
      for (let i = 0; i < n; i++) {
        pending.push(noop.delay());
        if (pending.length === BATCH) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      const pipelined = n / ((performance.now() - start) / 1000);
      await backlog.purge(commands);
      start = performance.now();
      for (let i = 0; i < n; i += 10_000) {
        await noop.applyMany(Array.from({ length: Math.min(10_000, n - i) }, () => []));
      }
      const batch = n / ((performance.now() - start) / 1000);
      if (countdownN > 0) {
        // The drained set: the plain tasks now, the countdown ones at the release.
        await backlog.purge(commands);
        await noop.applyMany(Array.from({ length: n - countdownN }, () => []));
      }
      return { loop, pipelined, batch };
    },
    async hold(commands) {
      await backlog.hold(commands, n - countdownN);
    },
    async release(commands) {
      await backlog.release(commands);
      if (countdownN > 0) {
        const { noop } = await load();
        await noop.applyMany(
          Array.from({ length: countdownN }, () => []),
          { countdown: countdownSec },
        );
      }
    },
    spawnWorker() {
      rmSync(readyFile, { force: true });
      const args = [CLI, 'worker', '-A', TASKS, '-Q', 'bench', '-c', String(concurrency), '-l', 'warn'];
      args.push('-n', `${name}@bench`, '--ready-file', readyFile, ...workerArgs);
      const program = new Program(name, process.execPath, args, { cwd: root, env });
      const ready = async () => {
        const deadline = performance.now() + 30_000;
        while (!existsSync(readyFile)) {
          if (!program.running)
            throw new Error(`${name} exited before it was ready; output:\n${program.text.slice(-3000)}`);
          if (performance.now() > deadline)
            throw new Error(`${name} not ready within 30 s; output:\n${program.text.slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 1));
        }
        return performance.now();
      };
      return { program, ready };
    },
    async doneCount(commands) {
      return commands.backend.dbsize();
    },
    async roundTrips(samples) {
      const { noop } = await load();
      const out = [];
      for (let i = 0; i < samples + 20; i++) {
        const start = performance.now();
        const result = await noop.delay();
        await result.get({ timeout: 10_000 });
        if (i >= 20) out.push(performance.now() - start);
      }
      return out;
    },
    async close() {
      await tasks?.app.close();
      tasks = undefined;
      rmSync(readyFile, { force: true });
    },
  };
}
