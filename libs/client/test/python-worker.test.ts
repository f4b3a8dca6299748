import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { RemoteTaskError } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';
import { chain } from '../src/chain.js';
import type { Task } from '../src/task.js';

// Our client → a real Python Celery 5.2 worker (solo pool) → our AsyncResult.get().
const PY_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'py');

let server: RedisServer;
let worker: ChildProcess | undefined;
let workerLog = '';
let app: Celeriac;
let add: Task;
let mul: Task;

beforeAll(async () => {
  server = await RedisServer.start();
  worker = spawn(
    '/usr/bin/python3',
    [
      '-m',
      'celery',
      '-A',
      'clienttasks',
      'worker',
      '--pool',
      'solo',
      '-Q',
      'celery,math',
      '-l',
      'info',
      '--without-mingle',
      '--without-gossip',
      '--without-heartbeat',
    ],
    {
      cwd: PY_DIR,
      env: { ...process.env, CLIENT_TEST_BROKER: server.url(0), CLIENT_TEST_BACKEND: server.url(1) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const onData = (d: Buffer) => {
    workerLog += d.toString();
  };
  worker.stdout?.on('data', onData);
  worker.stderr?.on('data', onData);
  const deadline = Date.now() + 30_000;
  while (!workerLog.includes('ready.')) {
    if (worker.exitCode !== null) throw new Error(`python celery worker exited early:\n${workerLog}`);
    if (Date.now() > deadline) throw new Error(`python celery worker not ready in 30 s:\n${workerLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  app = new Celeriac('tasks', { broker_url: server.url(0), result_backend: server.url(1) });
  add = app.task('tasks.add', (a: number, b: number) => a + b);
  mul = app.task('tasks.mul', (a: number, b: number) => a * b);
}, 60_000);

afterAll(async () => {
  await app?.close();
  const child = worker;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await server?.stop();
});

describe('celeriac client with a real Python Celery worker', () => {
  it('delay → Python runs it → get() returns the result', async () => {
    const r = await add.delay(2, 3);
    expect(await r.get({ timeout: 15_000 })).toBe(5);
    expect(r.state).toBe('SUCCESS');
    expect(r.traceback).toBeNull();
    expect(await r.successful()).toBe(true);
  });

  it('a chain sent by us runs step by step on the Python worker', async () => {
    const r = await chain(add.s(1, 2), mul.s(10), add.s(5)).applyAsync();
    expect(await r.get({ timeout: 15_000 })).toBe(35);
  });

  it('sendTask with kwargs, a queue and msgpack', async () => {
    const r = await app.sendTask(
      'tasks.greet',
      ['ada'],
      { punctuation: '?' },
      { queue: 'math', serializer: 'msgpack' },
    );
    expect(await r.get({ timeout: 15_000 })).toBe('hello ada?');
    const m = await app.sendTask('tasks.mul', [6, 7], {}, { queue: 'math', priority: 5 });
    expect(await m.get({ timeout: 15_000 })).toBe(42);
  });

  it('an expired task comes back REVOKED as TaskRevokedError', async () => {
    const r = await app.sendTask('tasks.add', [1, 1], {}, { expires: new Date(Date.now() - 1000) });
    await expect(r.get({ timeout: 15_000 })).rejects.toMatchObject({ code: 'CLIENT_TASK_REVOKED' });
    expect(r.state).toBe('REVOKED');
  });
  it('a Python exception comes back as RemoteTaskError with its traceback', async () => {
    const r = await app.sendTask('tasks.fail', ['bad value', 42]);
    const error = await r.get({ timeout: 15_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ excType: 'ValueError', excModule: 'builtins', excMessage: ['bad value', 42] });
    expect((error as RemoteTaskError).traceback).toContain('ValueError');
    expect(r.state).toBe('FAILURE');
    expect(r.traceback).toContain('Traceback');
    expect(await r.get({ propagate: false })).toBeInstanceOf(RemoteTaskError);
    expect(await r.failed()).toBe(true);
  });

  // After an eta task Celery 5.2's solo worker (prefetch 1) pauses ~10 s before it fetches again
  // (its QoS is raised for the eta message and lowered later), so this one runs last.
  it('countdown: Python runs the task after its eta', async () => {
    const sent = Date.now();
    const r = await app.sendTask('tasks.mul', [6, 7], {}, { countdown: 0.5 });
    expect(await r.get({ timeout: 15_000 })).toBe(42);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(450);
  });
});
