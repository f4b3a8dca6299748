// Proves the interop harness itself with Celery on both ends (Python client -> Python worker),
// so a failure in the celeriac interop suites points at celeriac, not at the harness.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPythonClient } from '../support/celery-python-client.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

describe('interop harness: Python client -> Python worker', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let worker: CeleryWorker;
  let config: Record<string, unknown>;
  let brokerDb: Redis;

  beforeAll(async () => {
    redis = await RedisServer.start();
    config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_routes: { 'tasks.mul': { queue: 'math' } },
    };
    worker = await CeleryWorker.start({ config, queues: ['celery', 'math'] });
    brokerDb = new Redis(redis.url(0));
  });

  afterAll(async () => {
    brokerDb?.disconnect();
    await worker?.stop();
    await redis?.stop();
  });

  it('runs args, kwargs, routes, msgpack, failures, link and chain', async () => {
    const lines = await runPythonClient(
      [
        { op: 'send', ref: 'add', name: 'tasks.add', args: [2, 3], wait: 20 },
        { op: 'send', ref: 'kwargs', name: 'tasks.echo_kwargs', args: [1], kwargs: { b: 'x' }, wait: 20 },
        { op: 'send', ref: 'routed', name: 'tasks.mul', args: [6, 7], wait: 20 },
        {
          op: 'send',
          ref: 'msgpack',
          name: 'tasks.echo',
          args: [{ s: 'héllo ✓', n: [1, 2.5] }],
          options: { serializer: 'msgpack' },
          wait: 20,
        },
        { op: 'send', ref: 'fail', name: 'tasks.fail', wait: 20 },
        { op: 'send', ref: 'custom', name: 'tasks.fail_custom', args: ['boom'], wait: 20 },
        {
          op: 'send',
          ref: 'link',
          name: 'tasks.add',
          args: [2, 3],
          options: { link: { name: 'tasks.mul', args: [10] } },
          wait: 20,
        },
        {
          op: 'chain',
          ref: 'chain',
          steps: [
            { name: 'tasks.add', args: [1, 2] },
            { name: 'tasks.mul', args: [4] },
            { name: 'tasks.add', args: [5] },
          ],
          wait: 20,
        },
        { op: 'send', ref: 'retry', name: 'tasks.retry_until', args: [2], kwargs: { countdown: 0.2 }, wait: 20 },
      ],
      config,
    );
    const byRef = new Map(lines.map((line) => [line.ref, line]));
    expect(byRef.get('add')).toMatchObject({ ok: true, result: 5, state: 'SUCCESS' });
    expect(byRef.get('kwargs')).toMatchObject({ ok: true, result: { args: [1], kwargs: { b: 'x' } } });
    expect(byRef.get('routed')).toMatchObject({ ok: true, result: 42 });
    expect(byRef.get('msgpack')).toMatchObject({ ok: true, result: { s: 'héllo ✓', n: [1, 2.5] } });
    expect(byRef.get('fail')).toMatchObject({ ok: false, exc_type: 'ValueError', exc_args: ['bad value', 42] });
    expect(byRef.get('fail')?.traceback).toMatch(/ValueError: \('bad value', 42\)/);
    expect(byRef.get('custom')).toMatchObject({ ok: false, exc_type: 'InteropError', exc_args: ['boom', 7] });
    expect(byRef.get('link')).toMatchObject({ ok: true, result: 5 });
    expect(byRef.get('chain')).toMatchObject({ ok: true, result: 17 });
    expect(byRef.get('chain')?.ids).toHaveLength(3);
    expect(byRef.get('retry')).toMatchObject({ ok: true, result: 2 });
  });

  it('honours countdown and turns an expired task into REVOKED', async () => {
    const [countdown, expired] = await runPythonClient(
      [
        { op: 'send', name: 'tasks.stamp', options: { countdown: 1.5 }, wait: 20 },
        { op: 'send', name: 'tasks.add', args: [1, 1], options: { expires_in: -5 }, wait: 20 },
      ],
      config,
    );
    expect(countdown?.ok).toBe(true);
    expect((countdown?.result as number) - (countdown?.sent_at as number)).toBeGreaterThanOrEqual(1.3);
    expect(expired).toMatchObject({ ok: false, state: 'REVOKED', exc_type: 'TaskRevokedError' });
  });

  it('counts runs per task id with tasks.record', async () => {
    const [sent] = await runPythonClient([{ op: 'send_many', name: 'tasks.record', count: 50 }], config);
    const ids = sent?.ids ?? [];
    expect(ids).toHaveLength(50);
    const deadline = Date.now() + 30_000;
    let runs: Record<string, string> = {};
    while (Date.now() < deadline) {
      runs = await brokerDb.hgetall('interop.runs');
      if (ids.every((id) => runs[id] !== undefined)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ids.map((id) => runs[id])).toEqual(ids.map(() => '1'));
  });
});
