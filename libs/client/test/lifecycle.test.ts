import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';
import { ClientClosedError } from '../src/errors.js';

let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server?.stop();
});

function count(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

async function settle(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('app life cycle', () => {
  it('close() leaves no sockets or timers behind, also with a get() pending', async () => {
    // The probe socket of RedisServer.start() may still be closing: start from a quiet state.
    await settle(() => count('TCPSocketWrap') === 0);
    const sockets = count('TCPSocketWrap');
    const timers = count('Timeout');
    const app = new Celeriac('tasks', { broker_url: server.url(0), result_backend: server.url(1) });
    const add = app.task('tasks.add', (a: number, b: number) => a + b);
    const r = await add.delay(1, 2);
    await expect(r.get({ timeout: 50 })).rejects.toMatchObject({ code: 'CLIENT_RESULT_TIMEOUT' });
    const pending = r.get({ timeout: 60_000 }).then(
      () => 'resolved',
      (e: Error) => e,
    );
    expect(count('TCPSocketWrap')).toBeGreaterThan(sockets);
    await app.close();
    expect(await pending).toBeInstanceOf(Error);
    const closed = await settle(() => count('TCPSocketWrap') <= sockets);
    expect(closed, JSON.stringify([sockets, process.getActiveResourcesInfo()])).toBe(true);
    expect(await settle(() => count('Timeout') <= timers)).toBe(true);
    await expect(r.get({ timeout: 10 })).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('close() on an app that never connected resolves at once', async () => {
    const app = new Celeriac('tasks');
    await app.close();
    await app.close();
  });

  it('the same task name twice: the same function is fine, another one is refused', () => {
    const app = new Celeriac('tasks');
    const fn = (a: number) => a;
    const t = app.task('tasks.x', fn);
    expect(app.task('tasks.x', fn)).toBe(t);
    expect(() => app.task('tasks.x', (a: number) => a + 1)).toThrow(/already registered/);
    expect(app.tasks.get('tasks.x')).toBe(t);
  });

  it('an AsyncResult sees a result stored while the app was idle', async () => {
    const app = new Celeriac('tasks', { broker_url: server.url(0), result_backend: server.url(1) });
    const redis = new Redis(server.url(1));
    try {
      const doc = {
        status: 'SUCCESS',
        result: [1, 'two'],
        traceback: null,
        children: [],
        date_done: null,
        task_id: 'x-1',
      };
      await redis.set('celery-task-meta-x-1', JSON.stringify(doc));
      const r = app.AsyncResult('x-1');
      expect(await r.ready()).toBe(true);
      expect(r.result).toEqual([1, 'two']);
      expect(await r.get()).toEqual([1, 'two']);
    } finally {
      redis.disconnect();
      await app.close();
    }
  });
});
