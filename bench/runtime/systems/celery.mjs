// Debian's Python Celery 5.2 as a benchmark anchor (solo, or prefork with n processes).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisBacklog } from '../lib/backlog.mjs';
import { Program, runToEnd } from '../lib/processes.mjs';

const PY_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'py');
const PYTHON = '/usr/bin/python3';

/**
 * A Celery system: `pool` is 'solo' or 'prefork'; `n` tasks per drain. `brokerUrl` and `backlog`
 * as for celeriac.mjs: the benchmark's Redis unless told (kombu's pyamqp transport for `amqp://`).
 */
export function celerySystem({ name, redis, pool, concurrency, n, brokerUrl = redis.url(0), backlog = redisBacklog }) {
  const env = {
    PYTHONPATH: PY_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    PYBENCH_BROKER_URL: brokerUrl,
    PYBENCH_RESULT_BACKEND: redis.url(1),
  };
  const client = async (mode, count) =>
    JSON.parse(
      await runToEnd(PYTHON, [path.join(PY_DIR, 'bench_client.py'), mode, String(count)], { cwd: PY_DIR, env }),
    );
  return {
    name,
    n,
    startsDraining: backlog.startsDraining,
    purge: (commands) => backlog.purge(commands),
    /** Leaves n tasks in the queue; returns enqueue rates (tasks/s). */
    async enqueue() {
      const { ms } = await client('enqueue', n);
      return { loop: n / (ms / 1000) };
    },
    async hold(commands) {
      await backlog.hold(commands, n);
    },
    async release(commands) {
      await backlog.release(commands);
    },
    spawnWorker() {
      const args = ['-m', 'celery', '-A', 'benchtasks', 'worker', '--pool', pool, '-Q', 'bench', '-n', `${name}@bench`];
      args.push('-l', 'warning', '--without-gossip', '--without-mingle', '--without-heartbeat');
      if (pool !== 'solo') args.push('-c', String(concurrency));
      const program = new Program(name, PYTHON, args, { cwd: PY_DIR, env });
      return { program, ready: () => program.waitFor(/\] bench\.ready$/m) };
    },
    async doneCount(commands) {
      return commands.backend.dbsize();
    },
    async roundTrips(samples) {
      return (await client('roundtrip', samples)).samples_ms;
    },
    async close() {},
  };
}
