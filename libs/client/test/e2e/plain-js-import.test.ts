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
import { AsyncResult, Celeriac, RemoteTaskError, Task, TimeoutError, Worker, createLogger } from 'celeriac';

const [brokerUrl, backendUrl] = process.argv.slice(2);
const app = new Celeriac('plain', { BROKER_URL: brokerUrl, CELERY_RESULT_BACKEND: backendUrl });
const add = app.task('tasks.add', (a, b) => a + b);
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
try {
  await app.AsyncResult('nobody-runs-this').get({ timeout: 100 });
} catch (error) {
  out.timeout = { isTimeoutError: error instanceof TimeoutError, code: error.code };
}
await worker.warmShutdown();
await app.close();
console.log(JSON.stringify(out));
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
    expect(out.timeout).toEqual({ isTimeoutError: true, code: 'RESULT_TIMEOUT' });
    const redis = new Redis(server.url(0));
    try {
      const raw = await redis.lindex('plainq\x06\x163', 0);
      expect(JSON.parse(raw!).headers).toMatchObject({ id: out.queuedId, task: 'tasks.queued' });
    } finally {
      redis.disconnect();
    }
  });
});
