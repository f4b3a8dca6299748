import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { logSchemaViolations } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const bin = path.join(root, 'apps/cli/bin/celeriac.js');
const fixtures = path.join(here, 'fixtures');

let redis: RedisServer;
let dir: string;
const children: ChildProcess[] = [];
const apps: Celeriac[] = [];

/** A spawned `celeriac worker` with its output lines. */
interface Spawned {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ipc: unknown[];
}

function spawnWorker(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [bin, 'worker', ...args], {
    cwd: root,
    env: {
      ...process.env,
      TEST_BROKER_URL: redis.url(0),
      TEST_BACKEND_URL: redis.url(1),
      CELERIAC_READY_FILE: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  const spawned: Spawned = {
    child,
    lines: [],
    stderr: [],
    ipc: [],
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        spawned.lines.push(JSON.parse(line));
      } catch {
        spawned.lines.push({ text: line });
      }
      nl = buffer.indexOf('\n');
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => spawned.stderr.push(chunk.toString()));
  child.on('message', (m) => spawned.ipc.push(m));
  return spawned;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function ready(w: Spawned): Promise<Record<string, unknown>> {
  return until(() => w.lines.find((l) => l.event === 'worker.ready'));
}

function client(settings: Record<string, unknown> = {}): Celeriac {
  const app = new Celeriac('test-client', { broker_url: redis.url(0), result_backend: redis.url(1), ...settings });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  if (!existsSync(path.join(root, 'apps/cli/dist/bin.js'))) {
    throw new Error('apps/cli is not built: run `npm run build` before the program tests');
  }
  redis = await RedisServer.start();
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-worker-test-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await Promise.all(apps.splice(0).map((a) => a.close()));
  const r = new Redis(redis.url(0));
  await r.flushall();
  r.disconnect();
});

afterAll(async () => {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('celeriac worker (spawned)', () => {
  it('loads a .ts app, announces readiness (file, log line, IPC), runs tasks and exits 0 on SIGTERM', async () => {
    const readyFile = path.join(dir, 'nested', 'ready.json');
    const started = Date.now();
    const w = spawnWorker([
      '-A',
      path.join(fixtures, 'tasks.ts'),
      '-Q',
      'celery,other',
      '-c',
      '4',
      '-n',
      'alpha@%h',
      '--ready-file',
      readyFile,
    ]);
    const line = await ready(w);
    const readyMs = Date.now() - started;
    expect(line).toMatchObject({ event: 'worker.ready', queues: ['celery', 'other'] });
    expect(String(line.name)).toMatch(/^alpha@/);
    const info = JSON.parse(readFileSync(readyFile, 'utf8'));
    expect(info).toMatchObject({ pid: w.child.pid, name: line.name, queues: ['celery', 'other'] });
    expect(new Date(info.ready_at).getTime()).toBeGreaterThan(started - 1000);
    await until(() => (w.ipc.length > 0 ? true : undefined));
    expect(w.ipc[0]).toMatchObject({ type: 'celeriac.ready', pid: w.child.pid });
    const app = client();
    const r = await app.sendTask('tasks.add', [], { a: 2, b: 3 }, { queue: 'other' });
    expect(await r.get({ timeout: 10_000 })).toBe(5);
    const starting = w.lines.find((l) => l.event === 'worker.starting');
    expect(starting?.tasks).toEqual(['tasks.add', 'tasks.slow_pid', 'tasks.spin', 'tasks.stray']);
    // A stray rejection in task code is logged; the worker goes on.
    expect(await (await app.sendTask('tasks.stray')).get({ timeout: 10_000 })).toBe('ok');
    await until(() => w.lines.find((l) => l.event === 'worker.unhandled_rejection'));
    expect(await (await app.sendTask('tasks.add', [1, 1])).get({ timeout: 10_000 })).toBe(2);
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.lines.some((l) => l.event === 'worker.stopped')).toBe(true);
    const states = w.lines.filter((l) => l.event === 'worker.state').map((l) => [l.from, l.to]);
    expect(states).toEqual([
      ['created', 'starting'],
      ['starting', 'running'],
      ['running', 'draining'],
      ['draining', 'stopped'],
    ]);
    // Every line of the program follows the log schema.
    expect(w.lines.flatMap((l) => logSchemaViolations(l).map((p) => `${String(l.event)}: ${p}`))).toEqual([]);
    // Spawn → ready of a .ts app (tsx loaded) under a loaded test machine; the figure is logged.
    process.stdout.write(`spawn → ready (.ts app via tsx): ${readyMs} ms\n`);
    expect(readyMs).toBeLessThan(10_000);
  });

  it('loads a .mjs app exported as default, without tsx, and applies --config (default queue from it)', async () => {
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ CELERY_DEFAULT_QUEUE: 'from_config', worker_prefetch_multiplier: 2 }));
    const started = Date.now();
    const w = spawnWorker(['-A', path.join(fixtures, 'tasks.mjs'), '--config', config, '-l', 'debug']);
    const line = await ready(w);
    process.stdout.write(`spawn → ready (.mjs app): ${Date.now() - started} ms\n`);
    expect(line.queues).toEqual(['from_config']);
    const app = client();
    const r = await app.sendTask('tasks.mul', [6, 7], {}, { queue: 'from_config' });
    expect(await r.get({ timeout: 10_000 })).toBe(42);
    w.child.kill('SIGINT');
    expect((await w.exited).code).toBe(0);
  });

  it('refuses bad usage with exit 2 and a missing app module with exit 1 and a clear message', async () => {
    const usage = spawnWorker(['-Q', 'x']);
    expect((await usage.exited).code).toBe(2);
    expect(usage.stderr.join('')).toContain('Missing -A <module>');
    const missing = spawnWorker(['-A', './no/such/module.ts']);
    expect((await missing.exited).code).toBe(1);
    const failed = missing.lines.find((l) => l.event === 'worker.failed');
    expect(failed).toMatchObject({ code: 'WORKER_APP_NOT_FOUND' });
  });

  it('never logs the password of the broker URL, also when it cannot connect', async () => {
    // Nothing listens there: start-up fails, and its error names the URL.
    const secretUrl = `redis://:s3cret-pw@127.0.0.1:${await freePort()}/0`;
    // One try (broker_connection_retry on, Celery's default, retries 100 times first).
    const noRetry = path.join(dir, 'no-retry.json');
    writeFileSync(noRetry, JSON.stringify({ broker_connection_retry: false }));
    const w = spawnWorker(['-A', path.join(fixtures, 'tasks.ts'), '--config', noRetry], {
      TEST_BROKER_URL: secretUrl,
      TEST_BACKEND_URL: secretUrl,
    });
    const exit = await w.exited;
    expect(exit.code).toBe(1);
    const output = JSON.stringify(w.lines) + w.stderr.join('');
    expect(output).toContain('worker.failed');
    // The error is logged as the Error itself (serialized, redacted), and the worker ended failed.
    const failed = w.lines.find((l) => l.event === 'worker.failed');
    expect(failed?.err).toMatchObject({ message: expect.stringContaining('redis://:***@127.0.0.1') });
    expect(w.lines.find((l) => l.event === 'worker.state' && l.to === 'failed')).toMatchObject({
      from: 'starting',
      reason: 'start_failed',
    });
    expect(output).toContain('redis://:***@127.0.0.1');
    expect(output).not.toContain('s3cret-pw');
  });

  it('after SIGKILL with acks_late, the task runs again on another worker once the visibility timeout passes', async () => {
    const config = path.join(dir, 'vt.json');
    writeFileSync(config, JSON.stringify({ broker_transport_options: { visibility_timeout: 2 } }));
    const a = spawnWorker(['-A', path.join(fixtures, 'tasks.ts'), '--config', config, '-n', 'a@%h']);
    await ready(a);
    const app = client();
    const r = await app.sendTask('tasks.slow_pid', [1500]);
    const probe = new Redis(redis.url(0));
    await until(async () => ((await probe.hlen('unacked')) === 1 ? true : undefined));
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const b = spawnWorker(['-A', path.join(fixtures, 'tasks.ts'), '--config', config, '-n', 'b@%h']);
    await ready(b);
    const killedAt = Date.now();
    expect(await r.get({ timeout: 15_000 })).toBe(b.child.pid);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    // The ack goes out beside the result (in parallel), so it may land just after get() returns.
    await until(async () => ((await probe.hlen('unacked')) === 0 ? true : undefined), 2000);
    probe.disconnect();
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('SIGTERM drains, a second signal (SIGQUIT) goes cold: the acks_late task is handed back', async () => {
    const w = spawnWorker(['-A', path.join(fixtures, 'tasks.ts')]);
    await ready(w);
    const app = client();
    const r = await app.sendTask('tasks.slow_pid', [60_000]);
    const probe = new Redis(redis.url(0));
    await until(async () => ((await probe.hlen('unacked')) === 1 ? true : undefined));
    w.child.kill('SIGTERM');
    await until(() => w.lines.find((l) => l.event === 'worker.draining'));
    w.child.kill('SIGQUIT');
    expect((await w.exited).code).toBe(0);
    const queued = await probe.lrange('celery', 0, -1);
    expect(queued.map((raw) => JSON.parse(raw).headers.id)).toEqual([r.id]);
    expect(await probe.hlen('unacked')).toBe(0);
    probe.disconnect();
  });

  it('kills itself when a synchronous task blocks the event loop past its hard limit (watchdog)', async () => {
    const w = spawnWorker(['-A', path.join(fixtures, 'tasks.ts')]);
    await ready(w);
    const app = client();
    await app.sendTask('tasks.spin', [30_000]);
    const started = Date.now();
    const exit = await w.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(10_000);
    const line = w.stderr
      .join('')
      .split('\n')
      .find((l) => l.includes('worker.watchdog_exit'));
    expect(JSON.parse(line as string)).toMatchObject({ event: 'worker.watchdog_exit', hard_time_limit_ms: 500 });
  });
});
