import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../../test/support/redis-server.js';

// A user's plain JavaScript app: `node app.mjs` importing the built `celeriac` package.
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../..');

const APP = `
import { AsyncResult, Celeriac, chain, RemoteTaskError, Task, TimeoutError, Worker, createLogger } from 'celeriac';

const [brokerUrl, backendUrl] = process.argv.slice(2);
const app = new Celeriac('plain', { BROKER_URL: brokerUrl, CELERY_RESULT_BACKEND: backendUrl });
const add = app.task('tasks.add', (a, b) => a + b);
const mul = app.task('tasks.mul', (a, b) => a * b);
const greet = app.task('tasks.greet', (name, punctuation = '!') => 'hello ' + name + punctuation, {
  params: ['name', 'punctuation'],
});
const boom = app.task('tasks.boom', () => {
  throw new RangeError('too big');
});
app.conf.update({ CELERY_ROUTES: { 'tasks.mul': 'math' } });
const out = {
  exports: [Celeriac, Task, AsyncResult, TimeoutError, RemoteTaskError, Worker].map((v) => typeof v),
  isTask: add instanceof Task,
};
const queued = await app.sendTask('tasks.queued', [1], {}, { queue: 'plainq', priority: 3 });
out.queuedId = queued.id;
const r = await add.delay(2, 3);
out.isResult = r instanceof AsyncResult;
const logger = createLogger({ level: 'silent', pretty: false });
const worker = new Worker({ app, queues: ['celery'], concurrency: 2, hostname: 'plain@test', logger });
await worker.start();
out.sum = await r.get({ timeout: 10000 });
out.state = r.state;
const mathWorker = new Worker({ app, queues: ['math'], concurrency: 1, hostname: 'math@test', logger });
await mathWorker.start();
out.chain = await (await chain(add.s(1, 2), mul.s(10), add.s(5)).applyAsync()).get({ timeout: 10000 });
out.kwargs = await (await greet.applyAsync(['ada'], { punctuation: '?' })).get({ timeout: 10000 });
const failed = await (await boom.delay()).get({ timeout: 10000, propagate: false });
out.failure = { isRemote: failed instanceof RemoteTaskError, excType: failed.excType, hasStack: String(failed.traceback).includes('too big') };
await mathWorker.warmShutdown();
try {
  await app.AsyncResult('nobody-runs-this').get({ timeout: 100 });
} catch (error) {
  out.timeout = { isTimeoutError: error instanceof TimeoutError, code: error.code };
}
await worker.warmShutdown();
await app.close();
console.log(JSON.stringify(out));
`;

// The README's TypeScript example, type-checked against the built declarations.
const TS_APP = `
import { AsyncResult, Celeriac, createLogger, type TaskOptions, TimeoutError, Worker } from 'celeriac';
export const app = new Celeriac('tasks', { broker_url: 'redis://127.0.0.1:6379/0', result_backend: 'redis://127.0.0.1:6379/1' });
const options: TaskOptions = { rate_limit: '10/m', params: ['a', 'b'] };
export const add = app.task('tasks.add', (a: number, b: number) => a + b, options);
export async function main(): Promise<number> {
  const r: AsyncResult = await add.delay(2, 3);
  await add.applyAsync([2, 3], {}, { queue: 'q', countdown: 1, eta: new Date(), expires: 60, priority: 3, serializer: 'msgpack' });
  const value = await r.get({ timeout: 1000 });
  const state: string = r.state;
  const tb: string | null = r.traceback;
  await app.sendTask('tasks.mul', [2, 3], {}, { queue: 'math' });
  const worker = new Worker({ app, queues: ['celery'], concurrency: 2, hostname: 'w@h', logger: createLogger() });
  await worker.warmShutdown();
  await app.close();
  void state;
  void tb;
  void TimeoutError;
  return value as number;
}
`;

let server: RedisServer;
let dir: string;

beforeAll(async () => {
  await run('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT, timeout: 280_000 });
  server = await RedisServer.start();
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-plain-js-'));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(path.join(ROOT, 'apps/cli'), path.join(dir, 'node_modules/celeriac'), 'dir');
  writeFileSync(path.join(dir, 'app.mjs'), APP);
  writeFileSync(path.join(dir, 'app.ts'), TS_APP);
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ['app.ts'],
    }),
  );
}, 300_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the built celeriac package from plain JavaScript', () => {
  it('defines, sends, runs and reads a task with node app.mjs', async () => {
    const { stdout } = await run(process.execPath, ['app.mjs', server.url(0), server.url(1)], {
      cwd: dir,
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.exports).toEqual(['function', 'function', 'function', 'function', 'function', 'function']);
    expect(out.isTask).toBe(true);
    expect(out.isResult).toBe(true);
    expect(out.sum).toBe(5);
    expect(out.state).toBe('SUCCESS');
    expect(out.timeout).toEqual({ isTimeoutError: true, code: 'CLIENT_RESULT_TIMEOUT' });
    expect(out.chain).toBe(35);
    expect(out.kwargs).toBe('hello ada?');
    // The worker names JS errors after their nearest Python builtin (RangeError → ValueError).
    expect(out.failure).toEqual({ isRemote: true, excType: 'ValueError', hasStack: true });
    const redis = new Redis(server.url(0));
    try {
      const raw = await redis.lindex('plainq\x06\x163', 0);
      expect(JSON.parse(raw!).headers).toMatchObject({ id: out.queuedId, task: 'tasks.queued' });
    } finally {
      redis.disconnect();
    }
  });

  it('type-checks the TypeScript usage example against the built declarations', async () => {
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', dir], { cwd: dir, timeout: 120_000 }).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe('ok');
  });
});
