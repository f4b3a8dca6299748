// Shared set-up of the canvas interop suites: one redis-server, a Python worker on queue `py` and a
// celeriac worker on queue `ts` (each with the canvas tasks), a celeriac client app, and the Python
// canvas client (test/interop/py/canvas_client.py).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker, PYTASKS_DIR, PYTHON, pytasksEnv } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

/** The celeriac canvas tasks module (test/interop/ts/canvas-tasks.ts). */
export const CANVAS_TASKS_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ts/canvas-tasks.ts');

/** A signature spec for canvas_client.py. */
export interface PySpec {
  name: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
  immutable?: boolean;
  on_error?: PySpec;
}

/** One line canvas_client.py prints. */
export interface CanvasLine {
  ref: string | null;
  op: string;
  id?: string;
  ids?: unknown;
  group_id?: string | null;
  state?: string | null;
  ok?: boolean;
  result?: unknown;
  exc_type?: string;
  exc_module?: string;
  exc_args?: unknown[];
  exc_repr?: string;
  completed?: number;
  ready?: boolean;
  successful?: boolean;
  found?: boolean;
  /** `canvas` ops: the result's `as_tuple()` and its class name. */
  tuple?: unknown;
  type?: string;
}

/** Runs canvas_client.py with `ops` and returns its JSON lines. */
export function runCanvasClient(
  ops: Record<string, unknown>[],
  config: Record<string, unknown>,
  timeoutMs = 90_000,
): Promise<CanvasLine[]> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [path.join(PYTASKS_DIR, 'canvas_client.py'), JSON.stringify(ops)],
      { cwd: PYTASKS_DIR, env: { ...process.env, ...pytasksEnv(config) }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`canvas_client.py failed (${err.message}); stderr:\n${stderr}\nstdout:\n${stdout}`));
          return;
        }
        resolve(
          stdout
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as CanvasLine),
        );
      },
    );
  });
}

/** The fleet of one canvas suite. */
export interface CanvasFleet {
  redis: RedisServer;
  config: Record<string, unknown>;
  py: CeleryWorker;
  ts: CeleriacWorkerProcess;
  app: Celeriac;
  backendDb: Redis;
  brokerDb: Redis;
  stop(): Promise<void>;
  /** What the workers printed last, for failure messages. */
  tails(): string;
}

/** Starts redis, a Python worker on `py` and a celeriac worker on `ts` (extra queues per side), and a client app. */
export async function startCanvasFleet(
  options: {
    pyQueues?: string[];
    tsQueues?: string[];
    pyEnv?: Record<string, string>;
    tsEnv?: Record<string, string>;
  } = {},
): Promise<CanvasFleet> {
  const redis = await RedisServer.start();
  const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
  const [py, ts] = await Promise.all([
    CeleryWorker.start({
      config: { ...config, imports: ['canvas_tasks'] },
      queues: options.pyQueues ?? ['py'],
      env: { PYTASKS_WORKER_TAG: 'python', ...options.pyEnv },
    }),
    CeleriacWorkerProcess.start({
      config,
      module: CANVAS_TASKS_MODULE,
      queues: options.tsQueues ?? ['ts'],
      concurrency: 8,
      loglevel: 'debug',
      env: { INTEROP_WORKER_TAG: 'celeriac', ...options.tsEnv },
    }),
  ]);
  const app = new Celeriac('canvas-client', config);
  const backendDb = new Redis(redis.url(1));
  const brokerDb = new Redis(redis.url(0));
  return {
    redis,
    config,
    py,
    ts,
    app,
    backendDb,
    brokerDb,
    tails: () => `python worker:\n${py.program.tail(30)}\nceleriac worker:\n${ts.program.tail(30)}`,
    async stop() {
      await app.close();
      backendDb.disconnect();
      brokerDb.disconnect();
      await Promise.all([py.stop(), ts.stop()]);
      await redis.stop();
    },
  };
}
