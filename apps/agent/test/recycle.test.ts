// A celeriac worker that recycles itself (worker_max_tasks_per_child) under the agent's Program:
// its successor starts at once, without crash backoff and without counting a crash. Runs the built
// `celeriac worker` (npm run build) against a redis-server of its own.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Celeriac } from '@celeriac/client';
import { WORKER_RECYCLE_EXIT_CODE } from '@celeriac/config-schema';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELERIAC_BIN, INTEROP_TASKS_MODULE } from '../../../test/support/celery-ts-worker.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { ChildRegistry } from '../src/child-registry.js';
import { Program, type ProgramSpec, type ReplicaExit } from '../src/program.js';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  level: 'debug',
  pretty: false,
  destination: { write: (line: string) => logLines.push(JSON.parse(line)) },
});

let redis: RedisServer;
let dir: string;
beforeAll(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-recycle-'));
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The `celeriac-worker` launch the agent builds (program-launch.ts), on this test's files. */
function workerSpec(settings: Record<string, unknown>): ProgramSpec {
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(settings));
  const readyFile = path.join(dir, 'ready', '1.json');
  return {
    name: 'w',
    definition: { kind: 'celeriac-worker', replicas: 1, stop_timeout: '10s', ready_timeout: '30s' },
    replicas: 1,
    stopTimeoutMs: 10_000,
    readyTimeoutMs: 30_000,
    configHash: 'hash-1',
    launch: () => ({
      file: process.execPath,
      args: [
        CELERIAC_BIN,
        'worker',
        '-A',
        INTEROP_TASKS_MODULE,
        '-Q',
        'recycled',
        '-c',
        '1',
        '-l',
        'info',
        '--config',
        configFile,
        '-n',
        'recycle@localhost',
        '--ready-file',
        readyFile,
      ],
      env: { CELERIAC_PROGRAM: 'w', CELERIAC_REPLICA: '1', CELERIAC_INTEROP_CONFIG: JSON.stringify(settings) },
      cwd: dir,
      readiness: { type: 'file', path: readyFile },
      logFile: path.join(dir, 'logs', '1.log'),
      workerName: 'recycle@localhost',
    }),
  };
}

describe('agent: a recycled celeriac worker', () => {
  it('is replaced at once, not counted as a crash, and no task is lost', async () => {
    const settings = { broker_url: redis.url(0), result_backend: redis.url(1), worker_max_tasks_per_child: 2 };
    const exits: ReplicaExit[] = [];
    const program = new Program(workerSpec(settings), {
      logger,
      registry: new ChildRegistry(dir, logger),
      onExit: (e) => exits.push(e),
      onChange: () => undefined,
      // A crash would wait 60 s: a recycle must not.
      crashBackoff: { initialMs: 60_000, maxMs: 60_000, stableAfterMs: 600_000, maxQuickFailures: 2, jitter: 0 },
    });
    const app = new Celeriac('recycle', settings);
    try {
      expect(await program.start()).toEqual({ ok: true });
      const firstPid = program.pids()[0];
      const started = Date.now();
      const results = await Promise.all(
        Array.from({ length: 7 }, (_, i) => app.sendTask('tasks.add', [i, 1], {}, { queue: 'recycled' })),
      );
      expect(await Promise.all(results.map((r) => r.get({ timeout: 60_000 })))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      // 7 tasks at 2 per process: three recycles, each successor started without the 60 s backoff
      // (and the FATAL that a second quick crash would give).
      expect(Date.now() - started).toBeLessThan(45_000);
      const recycled = exits.filter((e) => e.code === WORKER_RECYCLE_EXIT_CODE);
      expect(recycled).toHaveLength(3);
      expect(recycled.every((e) => e.expected)).toBe(true);
      expect(logLines.filter((l) => l.event === 'program.replica_recycled')).toHaveLength(3);
      expect(logLines.filter((l) => l.event === 'program.replica_crashed' || l.event === 'program.fatal')).toEqual([]);
      // The last successor may have run task 7 a moment before its ready file was seen.
      for (let i = 0; i < 200 && program.status().state !== 'running'; i++) await new Promise((r) => setTimeout(r, 50));
      const status = program.status();
      expect(status).toMatchObject({ state: 'running', restarts: 0, last_exit: { code: WORKER_RECYCLE_EXIT_CODE } });
      expect(status.pids).toHaveLength(1);
      expect(status.pids[0]).not.toBe(firstPid);
      expect(new Set(recycled.map((e) => e.pid)).size).toBe(3);
      const log = readFileSync(path.join(dir, 'logs', '1.log'), 'utf8');
      expect(log.match(/"event":"worker\.recycle"/g)).toHaveLength(3);
      // Each recycled process ran exactly its 2 tasks (what it had prefetched went back to the queue).
      const stopped = log
        .split('\n')
        .filter((l) => l.includes('"event":"worker.stopped"'))
        .map((l) => (JSON.parse(l) as { executed: number }).executed);
      expect(stopped).toEqual([2, 2, 2]);
    } finally {
      await app.close();
      await program.close();
    }
    expect(exits.at(-1)).toMatchObject({ code: 0, expected: true });
  }, 90_000);
});
