import { readFileSync } from 'node:fs';
import { RemoteTaskError } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';
import { TaskRevokedError, TimeoutError } from '../src/errors.js';

const FIXTURES = CELERY_FIXTURES_DIR;
const fixture = (name: string) => JSON.parse(readFileSync(`${FIXTURES}/${name}.json`, 'utf8'));

let server: RedisServer;
let backendRedis: Redis;
let app: Celeriac;

beforeAll(async () => {
  server = await RedisServer.start();
  backendRedis = new Redis(server.url(1));
  app = new Celeriac('tasks', { broker_url: server.url(0), result_backend: server.url(1) });
});

afterAll(async () => {
  await app?.close();
  backendRedis?.disconnect();
  await server?.stop();
});

/** Writes a result the way a Celery worker does: SETEX + PUBLISH on `celery-task-meta-<id>`. */
async function writeResult(id: string, doc: Record<string, unknown>): Promise<void> {
  const key = `celery-task-meta-${id}`;
  const value = JSON.stringify({ task_id: id, children: [], traceback: null, date_done: null, ...doc });
  await backendRedis.multi().setex(key, 86400, value).publish(key, value).exec();
}

async function waitForSubscriber(channel: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [, count] = (await backendRedis.pubsub('NUMSUB', channel)) as [string, number];
    if (Number(count) > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nobody subscribed to ${channel}`);
}

describe('AsyncResult against a real Redis backend', () => {
  it('get() resolves when the worker writes the result after the call started', async () => {
    const add = app.task('tasks.add', (a: number, b: number) => a + b);
    const r = await add.delay(2, 3);
    expect(r.state).toBe('PENDING');
    const pending = r.get({ timeout: 10_000 });
    await waitForSubscriber(`celery-task-meta-${r.id}`);
    await writeResult(r.id, { status: 'SUCCESS', result: 5, date_done: '2026-11-24T21:32:13.245331' });
    expect(await pending).toBe(5);
    expect(r.state).toBe('SUCCESS');
    expect(r.result).toBe(5);
    expect(r.traceback).toBeNull();
    expect(await r.ready()).toBe(true);
    expect(await r.successful()).toBe(true);
    expect(await r.failed()).toBe(false);
  });

  it('get() returns at once for a result already stored, also for ids sent by Python clients', async () => {
    const py = fixture('h2_success_dict');
    const [id, entry] = Object.entries(py.result_backend)[0] as [string, { raw: string; decoded: { result: unknown } }];
    await backendRedis.set(`celery-task-meta-${id}`, entry.raw);
    const r = app.AsyncResult(id);
    expect(await r.get({ timeout: 2000 })).toEqual(entry.decoded.result);
  });

  it('get() times out with TimeoutError (code CLIENT_RESULT_TIMEOUT) and keeps PENDING', async () => {
    const r = app.AsyncResult('never-written');
    const started = Date.now();
    const error = await r.get({ timeout: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'CLIENT_RESULT_TIMEOUT', taskId: 'never-written', timeoutMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(r.state).toBe('PENDING');
    expect(await r.ready()).toBe(false);
  });

  it('waits through non-ready states (STARTED, RETRY, custom) until a ready one', async () => {
    const r = app.AsyncResult('through-states');
    const pending = r.get({ timeout: 10_000 });
    await waitForSubscriber('celery-task-meta-through-states');
    await writeResult(r.id, { status: 'STARTED', result: { pid: 1, hostname: 'w' } });
    await writeResult(r.id, { status: 'PROGRESS', result: { done: 50 } });
    await new Promise((res) => setTimeout(res, 50));
    await writeResult(r.id, { status: 'SUCCESS', result: 'done' });
    expect(await pending).toBe('done');
  });

  it('propagates a FAILURE as RemoteTaskError with the traceback, or returns it with propagate: false', async () => {
    const py = fixture('g3_fail_valueerror_multiarg');
    const [id, entry] = Object.entries(py.result_backend)[0] as [string, { raw: string }];
    const r = app.AsyncResult(id);
    // The outcome is captured at once so that the rejection is never unhandled meanwhile.
    const pending = r.get({ timeout: 10_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitForSubscriber(`celery-task-meta-${id}`);
    await backendRedis
      .multi()
      .setex(`celery-task-meta-${id}`, 86400, entry.raw)
      .publish(`celery-task-meta-${id}`, entry.raw)
      .exec();
    const error = await pending;
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ excType: 'ValueError', excModule: 'builtins', excMessage: ['bad value', 42] });
    expect((error as RemoteTaskError).traceback).toContain('Traceback');
    expect(r.state).toBe('FAILURE');
    expect(r.traceback).toContain('ValueError');
    const returned = await r.get({ propagate: false });
    expect(returned).toBeInstanceOf(RemoteTaskError);
    expect(await r.failed()).toBe(true);
  });

  it('REVOKED throws TaskRevokedError with the reason', async () => {
    const py = fixture('d2_expired_revoked');
    const [id, entry] = Object.entries(py.result_backend)[0] as [string, { raw: string }];
    await backendRedis.set(`celery-task-meta-${id}`, entry.raw);
    const r = app.AsyncResult(id);
    const error = await r.get({ timeout: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskRevokedError);
    expect(error).toMatchObject({ code: 'CLIENT_TASK_REVOKED', reason: 'expired' });
    expect(await r.get({ propagate: false })).toBeInstanceOf(TaskRevokedError);
  });

  it('many concurrent get() calls all resolve', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `many-${i}`);
    const waits = ids.map((id) => app.AsyncResult(id).get({ timeout: 10_000 }));
    await waitForSubscriber('celery-task-meta-many-199');
    await Promise.all(ids.map((id, i) => writeResult(id, { status: 'SUCCESS', result: i })));
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));
  });
});
