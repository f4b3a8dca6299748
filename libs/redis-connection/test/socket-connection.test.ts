import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderCeleryconfig } from '@celeriac/agent';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleryWorker } from '../../../test/support/celery-worker.js';
import { renderedCelerySettings } from '../../../test/support/rendered-celeryconfig.js';
import { closeRedisConnection, createRedisConnection } from '../src/index.js';

const logger = createLogger({ level: 'silent', pretty: false });
let dir: string;
let socket: string;
let server: ChildProcess;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-sock-'));
  socket = path.join(dir, 'redis.sock');
  server = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 5_000;
  while (!existsSync(socket) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});
afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('unix socket URLs (redis+socket:// as kombu and Celery, unix:// as redis-py)', () => {
  it('redis+socket:///path?virtual_host=N and unix:///path?db=N reach the same database', async () => {
    const a = createRedisConnection(`redis+socket://${socket}?virtual_host=2`, 'socket-a', logger);
    const b = createRedisConnection(`unix://${socket}?db=2`, 'socket-b', logger);
    const other = createRedisConnection(`unix://${socket}`, 'socket-c', logger);
    try {
      await Promise.all([a.connect(), b.connect(), other.connect()]);
      await a.set('socket-key', 'via redis+socket');
      expect(await b.get('socket-key')).toBe('via redis+socket');
      expect(await other.get('socket-key')).toBeNull();
    } finally {
      await Promise.all([closeRedisConnection(a), closeRedisConnection(b), closeRedisConnection(other)]);
    }
  });

  it('the client publishes and gets results over redis+socket:// (it refused the scheme before)', async () => {
    const app = new Celeriac('socket-client', {
      broker_url: `redis+socket://${socket}`,
      result_backend: `unix://${socket}?db=1`,
    });
    const probe = createRedisConnection(`unix://${socket}`, 'probe', logger);
    try {
      const result = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'socket-q' });
      await probe.connect();
      expect(await probe.llen('socket-q')).toBe(1);
      await app.backend().start();
      await app
        .backend()
        .store({ task_id: result.id, status: 'SUCCESS', result: 3, traceback: null, children: [], date_done: null });
      expect(await result.get({ timeout: 5_000 })).toBe(3);
    } finally {
      await app.close();
      await closeRedisConnection(probe);
    }
  });

  it('a socket that does not exist fails connect() with ENOENT and the path, not "Connection is closed."', async () => {
    const redis = createRedisConnection(`redis+socket://${dir}/missing.sock`, 'missing', logger);
    try {
      await expect(redis.connect()).rejects.toThrow(`connect ENOENT ${dir}/missing.sock`);
    } finally {
      await closeRedisConnection(redis);
    }
  });

  it("a Python worker on the agent's rendered celeryconfig (unix:// written as redis+socket://) serves the client", async () => {
    const settings = { broker_url: `unix://${socket}?db=3`, result_backend: `unix://${socket}?db=4` };
    const source = renderCeleryconfig(settings, { node: 'n', program: 'py', revision: 1 });
    expect(source).toContain(`broker_url = "redis+socket://${socket}?virtual_host=3"`);
    const rendered = renderedCelerySettings(source);
    const py = await CeleryWorker.start({ config: rendered, queues: ['py-socket'], pool: 'solo' });
    const app = new Celeriac('socket-to-python', settings);
    try {
      const result = await app.sendTask('tasks.add', [4, 5], {}, { queue: 'py-socket' });
      expect(await result.get({ timeout: 30_000 })).toBe(9);
    } finally {
      await app.close();
      await py.stop();
    }
  }, 60_000);
});
