// Settings of issue 10 checked by behaviour across languages and through the real `celeriac worker`
// program: compression both ways with Python Celery 5.2, one warning per unsupported or misspelt
// setting, strict mode, and a worker that recycles itself after N tasks (needs `npm run build`).
import { readFileSync } from 'node:fs';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProgram } from '../support/celery-child-process.js';
import { pollUntil } from '../support/celery-poll.js';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CELERIAC_BIN, CeleriacWorkerProcess, INTEROP_TASKS_MODULE } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

/** The JSON log lines of a worker program's output. */
function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

describe('settings across languages and in the worker program', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let broker: Redis;
  let config: Record<string, unknown>;

  const python = (ops: PythonClientOp[], extra: Record<string, unknown> = {}) =>
    runPythonClientByRef(ops, { ...config, ...extra });

  beforeAll(async () => {
    redis = await RedisServer.start();
    broker = new Redis(redis.url(0));
    config = { broker_url: redis.url(0), result_backend: redis.url(1) };
  });

  afterAll(async () => {
    broker?.disconnect();
    await redis?.stop();
  });

  it('a Python worker reads what our client compressed (task_compression zlib)', async () => {
    const app = new Celeriac('settings', { ...config, task_compression: 'zlib' });
    const worker = await CeleryWorker.start({ config, queues: ['py-zlib'], pool: 'solo' });
    try {
      const r = await app.sendTask('tasks.echo', ['z'.repeat(5000)], {}, { queue: 'py-zlib' });
      expect(await r.get({ timeout: 20_000 })).toBe('z'.repeat(5000));
    } finally {
      await app.close();
      await worker.stop();
    }
  });

  it('our worker reads what Python compressed (zlib, and result_compression as Celery 5.2 uses it), and bzip2 (decoded only)', async () => {
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['ts-zlib'] });
    try {
      const out = await python([
        {
          op: 'send',
          ref: 'zlib',
          name: 'tasks.add',
          args: [2, 3],
          options: { queue: 'ts-zlib', compression: 'zlib' },
          wait: 20,
        },
        {
          op: 'send',
          ref: 'gzip',
          name: 'tasks.add',
          args: [4, 5],
          options: { queue: 'ts-zlib', compression: 'gzip' },
          wait: 20,
        },
        {
          op: 'send',
          ref: 'bzip2',
          name: 'tasks.add',
          args: [1, 1],
          options: { queue: 'ts-zlib', compression: 'bzip2' },
          wait: 20,
        },
      ]);
      expect(out.get('zlib')).toMatchObject({ ok: true, result: 5 });
      expect(out.get('gzip')).toMatchObject({ ok: true, result: 9 });
      const viaSetting = await python(
        [{ op: 'send', ref: 'setting', name: 'tasks.add', args: [6, 7], options: { queue: 'ts-zlib' }, wait: 20 }],
        { result_compression: 'zlib' },
      );
      expect(viaSetting.get('setting')).toMatchObject({ ok: true, result: 13 });
      expect(out.get('bzip2')).toMatchObject({ ok: true, result: 2 });
    } finally {
      await worker.stop();
    }
  });

  it('a worker program started with unsupported and misspelt settings prints exactly one warning per name', async () => {
    const settings = {
      ...config,
      task_store_eager_result: true,
      worker_direct: true,
      CELERY_SEND_EVENTS: false,
      task_serialiser: 'json',
      worker_max_task_per_child: 5,
      worker_pool: 'solo',
    };
    const worker = await CeleriacWorkerProcess.start({ config: settings, queues: ['warned'] });
    let output: string;
    try {
      // A send from a task's app (the client side of the same program) must not repeat them.
      const app = new Celeriac('settings', config);
      const r = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'warned' });
      expect(await r.get({ timeout: 20_000 })).toBe(3);
      await app.close();
    } finally {
      await worker.stop();
      output = worker.output();
    }
    const warnings = logLines(output).filter(
      (l) => l.event === 'worker.setting_not_honoured' || l.event === 'client.setting_not_honoured',
    );
    expect(warnings.map((w) => [w.event, w.setting]).sort()).toEqual([
      ['worker.setting_not_honoured', 'task_serialiser'],
      ['worker.setting_not_honoured', 'task_store_eager_result'],
      ['worker.setting_not_honoured', 'worker_direct'],
      ['worker.setting_not_honoured', 'worker_max_task_per_child'],
    ]);
    const byName = new Map(warnings.map((w) => [w.setting, String(w.reason)]));
    expect(byName.get('task_serialiser')).toContain('did you mean task_serializer?');
    expect(byName.get('worker_max_task_per_child')).toContain('did you mean worker_max_tasks_per_child?');
    expect(byName.get('worker_direct')).toContain('do not consume a queue of their own');
  });

  it('celeriac_strict_settings refuses to start, naming each such setting', async () => {
    const strict = CeleriacWorkerProcess.spawn({
      config: { ...config, task_store_eager_result: true, task_serialiser: 'json', celeriac_strict_settings: true },
      queues: ['strict'],
    });
    try {
      const exit = await strict.program.exited;
      expect(exit.code).toBe(1);
      const output = strict.output();
      expect(output).toContain('celeriac_strict_settings is on');
      expect(output).toContain('task_store_eager_result is not supported');
      expect(output).toContain('task_serialiser is not a Celery setting');
      expect(output).not.toContain('"event":"worker.ready"');
    } finally {
      await strict.kill();
    }
  });

  it('--strict-settings refuses the same way, from the command line', async () => {
    const settings = { ...config, worker_direct: true, task_acks_lat: true };
    const program = new ChildProgram({
      command: process.execPath,
      args: [CELERIAC_BIN, 'worker', '-A', INTEROP_TASKS_MODULE, '-Q', 'strict-cli', '--strict-settings'],
      cwd: process.cwd(),
      env: { CELERIAC_INTEROP_CONFIG: JSON.stringify(settings) },
      label: 'celeriac worker --strict-settings',
    });
    const exit = await program.exited;
    expect(exit.code).toBe(1);
    const failed = logLines(program.output()).find((l) => l.event === 'worker.failed');
    expect(failed?.code).toBe('CLIENT_CONFIG_INVALID');
    expect(String(failed?.msg)).toContain('worker_direct is not supported');
    expect(String(failed?.msg)).toContain(
      'task_acks_lat is not a Celery setting; nothing reads it (did you mean task_acks_late?)',
    );
  });

  it('worker_max_tasks_per_child: the program alone re-executes itself every N tasks (pid changes, no task lost)', async () => {
    const worker = await CeleriacWorkerProcess.start({
      config: { ...config, worker_max_tasks_per_child: 3 },
      queues: ['recycled'],
      concurrency: 1,
    });
    const app = new Celeriac('settings', config);
    try {
      const firstPid = (JSON.parse(readFileSync(worker.readyFile, 'utf8')) as { pid: number }).pid;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => app.sendTask('tasks.add', [i, i], {}, { queue: 'recycled' })),
      );
      expect(await Promise.all(results.map((r) => r.get({ timeout: 60_000 })))).toEqual(
        Array.from({ length: 10 }, (_, i) => 2 * i),
      );
      // 10 tasks at 3 per process: 4 processes, each ready once; the first is the one we started.
      // (Log lines are written asynchronously: wait for the last process's.)
      const readyPidsOf = () => [
        ...new Set(
          logLines(worker.output())
            .filter((l) => l.event === 'worker.ready')
            .map((l) => l.pid),
        ),
      ];
      const readyPids = await pollUntil(() => (readyPidsOf().length >= 4 ? readyPidsOf() : undefined), {
        what: 'four worker processes ready',
        timeoutMs: 20_000,
        detail: () => worker.output().slice(-3000),
      });
      expect(readyPids).toHaveLength(4);
      const lines = logLines(worker.output());
      expect(readyPids[0]).toBe(firstPid);
      expect(lines.filter((l) => l.event === 'worker.recycle').map((l) => l.executed)).toEqual([3, 3, 3]);
      expect(lines.filter((l) => l.event === 'worker.stopped').map((l) => l.executed)).toEqual([3, 3, 3]);
      const lastPid = (JSON.parse(readFileSync(worker.readyFile, 'utf8')) as { pid: number }).pid;
      expect(lastPid).toBe(readyPids[3]);
      expect(lastPid).not.toBe(firstPid);
      expect(worker.program.running).toBe(true);
    } finally {
      await app.close();
      // SIGTERM reaches the current worker through the relay; the relay exits with its code.
      const exit = await worker.stop();
      expect(exit.code).toBe(0);
    }
  });
});
