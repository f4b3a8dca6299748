// Real Python Celery 5.2 client -> `celeriac worker` (the built CLI), on one private redis-server.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

describe('Python Celery client -> celeriac worker', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let worker: CeleriacWorkerProcess;
  let config: Record<string, unknown>;
  let brokerDb: Redis;

  const run = (ops: PythonClientOp[]) => runPythonClientByRef(ops, config);

  beforeAll(async () => {
    redis = await RedisServer.start();
    config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_routes: { 'tasks.mul': { queue: 'math' } },
    };
    worker = await CeleriacWorkerProcess.start({ config, queues: ['celery', 'math', 'other'] });
    brokerDb = new Redis(redis.url(0));
  });

  afterAll(async () => {
    brokerDb?.disconnect();
    await worker?.stop();
    await redis?.stop();
  });

  it('maps args and kwargs onto declared params', async () => {
    const out = await run([
      { op: 'send', ref: 'args', name: 'tasks.add', args: [2, 3], wait: 20 },
      { op: 'send', ref: 'kwargs', name: 'tasks.add', kwargs: { a: 2, b: 3 }, wait: 20 },
      { op: 'send', ref: 'mixed', name: 'tasks.add', args: [2], kwargs: { b: 40 }, wait: 20 },
      { op: 'send', ref: 'echo', name: 'tasks.echo_kwargs', args: [1], kwargs: { b: 'x', c: [1, null] }, wait: 20 },
      { op: 'send', ref: 'unknown', name: 'tasks.add', kwargs: { a: 1, c: 2 }, wait: 20 },
    ]);
    expect(out.get('args')).toMatchObject({ ok: true, state: 'SUCCESS', result: 5 });
    expect(out.get('kwargs')).toMatchObject({ ok: true, result: 5 });
    expect(out.get('mixed')).toMatchObject({ ok: true, result: 42 });
    expect(out.get('echo')).toMatchObject({ ok: true, result: { args: [1], kwargs: { b: 'x', c: [1, null] } } });
    expect(out.get('unknown')).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'TypeError' });
  });

  it('raises the JS failure as a Python exception with a traceback', async () => {
    const out = await run([
      { op: 'send', ref: 'fail', name: 'tasks.fail', wait: 20 },
      { op: 'send', ref: 'custom', name: 'tasks.fail_custom', args: ['boom'], wait: 20 },
    ]);
    const fail = out.get('fail');
    expect(fail).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'ValueError', exc_module: 'builtins' });
    expect(fail?.exc_args).toEqual(['bad value', 42]);
    expect(fail?.traceback).toMatch(/Traceback \(most recent call last\):/);
    expect(fail?.traceback).toMatch(/tasks\.ts/);
    expect(fail?.traceback).toMatch(/ValueError: \('bad value', 42\)/);
    const custom = out.get('custom');
    expect(custom).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'InteropError' });
    expect(custom?.exc_args).toEqual(['boom', 7]);
  });

  it('accepts msgpack and follows routes and the queue option', async () => {
    const value = { s: 'héllo ✓ 漢字', n: [1, 2.5, -3], nested: { t: true, z: null } };
    const out = await run([
      { op: 'send', ref: 'msgpack', name: 'tasks.echo', args: [value], options: { serializer: 'msgpack' }, wait: 20 },
      { op: 'send', ref: 'routed', name: 'tasks.mul', args: [6, 7], wait: 20 },
      { op: 'send', ref: 'queue', name: 'tasks.add', args: [1, 2], options: { queue: 'other' }, wait: 20 },
    ]);
    expect(out.get('msgpack')).toMatchObject({ ok: true, result: value });
    expect(out.get('routed')).toMatchObject({ ok: true, result: 42 });
    expect(out.get('queue')).toMatchObject({ ok: true, result: 3 });
  });

  it('holds countdown/eta tasks until due and revokes expired ones', async () => {
    const out = await run([
      { op: 'send', ref: 'countdown', name: 'tasks.stamp', options: { countdown: 1.5 } },
      { op: 'send', ref: 'eta', name: 'tasks.stamp', options: { eta_in: 1.5 } },
      { op: 'send', ref: 'expired', name: 'tasks.add', args: [1, 1], options: { expires_in: -5 }, wait: 20 },
    ]);
    expect(out.get('expired')).toMatchObject({ ok: false, state: 'REVOKED', exc_type: 'TaskRevokedError' });
    const waited = await run([
      { op: 'get', ref: 'countdown', id: out.get('countdown')?.id as string, wait: 20 },
      { op: 'get', ref: 'eta', id: out.get('eta')?.id as string, wait: 20 },
    ]);
    for (const ref of ['countdown', 'eta']) {
      const ranAt = waited.get(ref)?.result as number;
      const sentAt = out.get(ref)?.sent_at as number;
      expect(ranAt - sentAt).toBeGreaterThanOrEqual(1.3);
      expect(ranAt - sentAt).toBeLessThan(10);
    }
  });

  it('retries, runs link callbacks and chains', async () => {
    const linkId = '5b7c7c9e-1f0a-4d0e-9d38-6f1b6a0c0001';
    const out = await run([
      { op: 'send', ref: 'retry', name: 'tasks.retry_until', args: [2], kwargs: { countdown: 0.2 }, wait: 20 },
      {
        op: 'send',
        ref: 'link',
        name: 'tasks.add',
        args: [2, 3],
        options: { link: { name: 'tasks.mul', args: [10], options: { task_id: linkId } } },
        wait: 20,
      },
      { op: 'get', ref: 'linked', id: linkId, wait: 20 },
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
    ]);
    expect(out.get('retry')).toMatchObject({ ok: true, result: 2 });
    expect(out.get('link')).toMatchObject({ ok: true, result: 5 });
    expect(out.get('linked')).toMatchObject({ ok: true, result: 50 });
    expect(out.get('chain')).toMatchObject({ ok: true, result: 17 });
    const [first, second, third] = out.get('chain')?.ids ?? [];
    const results = await run([
      { op: 'get', ref: 'first', id: first as string, wait: 20 },
      { op: 'get', ref: 'second', id: second as string, wait: 20 },
      { op: 'get', ref: 'third', id: third as string, wait: 20 },
    ]);
    expect([results.get('first')?.result, results.get('second')?.result, results.get('third')?.result]).toEqual([
      3, 12, 17,
    ]);
  });

  it('applies time limits, ignore_result, and refuses unknown tasks and pickle without stopping', async () => {
    const out = await run([
      { op: 'send', ref: 'hard', name: 'tasks.sleep', args: [5], options: { time_limit: 1 }, wait: 20 },
      { op: 'send', ref: 'ignored', name: 'tasks.add', args: [1, 1], options: { ignore_result: true } },
      { op: 'send', ref: 'unknown', name: 'tasks.no_such_task', wait: 20 },
      { op: 'send', ref: 'pickle', name: 'tasks.add', args: [1, 2], options: { serializer: 'pickle' }, wait: 20 },
      { op: 'send', ref: 'after', name: 'tasks.add', args: [20, 22], wait: 20 },
    ]);
    expect(out.get('hard')).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'TimeLimitExceeded' });
    expect(out.get('unknown')).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'NotRegistered' });
    expect(out.get('pickle')).toMatchObject({ ok: false, state: 'FAILURE' });
    expect(out.get('after')).toMatchObject({ ok: true, result: 42 });
    const backendDb = new Redis(redis.url(1));
    try {
      expect(await backendDb.exists(`celery-task-meta-${out.get('ignored')?.id}`)).toBe(0);
    } finally {
      backendDb.disconnect();
    }
    // The refused pickle message is kept for inspection, not redelivered.
    const dead = await brokerDb.lrange('celeriac.dead-letter', 0, -1);
    expect(dead.some((entry) => entry.includes(out.get('pickle')?.id as string))).toBe(true);
  });

  it('serves lower priority numbers first', async () => {
    const tags = [9, 6, 3, 0];
    await run(
      tags.map((p) => ({
        op: 'send' as const,
        name: 'tasks.order',
        args: [`p${p}`],
        options: { queue: 'prio', priority: p },
      })),
    );
    expect(await brokerDb.llen('prio\x06\x169')).toBe(1);
    const prio = await CeleriacWorkerProcess.start({ config, queues: ['prio'], concurrency: 1 });
    try {
      const order = await pollUntil(
        async () => {
          const list = await brokerDb.lrange('interop.order', 0, -1);
          return list.length === tags.length ? list : undefined;
        },
        { what: 'all four priority tasks to run', detail: () => prio.output() },
      );
      expect(order).toEqual(['p0', 'p3', 'p6', 'p9']);
    } finally {
      await prio.stop();
    }
  });
});
