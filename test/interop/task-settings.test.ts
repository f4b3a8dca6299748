// `imports` / `include`, task_store_errors_even_if_ignored and task_acks_on_failure_or_timeout,
// seen from a real Python Celery 5.2 client against the built `celeriac worker`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

const INCLUDED = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ts/task-settings-included.ts');

describe('task settings seen from Python Celery', { timeout: 120_000 }, () => {
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
      imports: ['./test/interop/ts/task-settings-imported.ts'],
      include: [INCLUDED],
      task_acks_late: true,
      task_acks_on_failure_or_timeout: false,
      task_store_errors_even_if_ignored: true,
      task_inherit_parent_priority: true,
    };
    worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'] });
    brokerDb = new Redis(redis.url(0));
  });

  afterAll(async () => {
    brokerDb?.disconnect();
    await worker?.stop();
    await redis?.stop();
  });

  it('imports and include: the worker serves the tasks the named modules register', async () => {
    const out = await run([
      { op: 'send', ref: 'mul', name: 'extra.mul', args: [6, 7], wait: 30 },
      { op: 'send', ref: 'neg', name: 'extra.neg', args: [5], wait: 30 },
    ]);
    expect(out.get('mul')).toMatchObject({ ok: true, state: 'SUCCESS', result: 42 });
    expect(out.get('neg')).toMatchObject({ ok: true, state: 'SUCCESS', result: -5 });
    expect(worker.output()).not.toMatch(/"setting":"(imports|include)"/);
  });

  it('imports: a module that cannot be found stops the worker at start, naming it', async () => {
    const broken = CeleriacWorkerProcess.spawn({ config: { ...config, imports: ['./no/such/tasks.ts'] } });
    try {
      const exit = await broken.program.exited;
      expect(exit.code).toBe(1);
      expect(broken.output()).toMatch(
        /Cannot find the module .{0,2}\.\/no\/such\/tasks\.ts.{0,2} named in imports\/include/,
      );
      expect(broken.output()).not.toContain('"event":"worker.ready"');
    } finally {
      await broken.kill();
    }
  });

  it('task_store_errors_even_if_ignored: an ignore_result task that fails still has its FAILURE for Python', async () => {
    const out = await run([
      { op: 'send', ref: 'ok', name: 'tasks.add', args: [1, 2], options: { ignore_result: true } },
      { op: 'send', ref: 'boom', name: 'tasks.fail', options: { ignore_result: true } },
    ]);
    const boomId = out.get('boom')?.id as string;
    const okId = out.get('ok')?.id as string;
    const failure = await run([{ op: 'get', ref: 'boom', id: boomId, wait: 30 }]);
    expect(failure.get('boom')).toMatchObject({ ok: false, state: 'FAILURE' });
    // The successful ignore_result task stored nothing.
    const results = new Redis(redis.url(1));
    try {
      expect(await results.exists(`celery-task-meta-${okId}`)).toBe(0);
    } finally {
      results.disconnect();
    }
  });

  it('task_acks_on_failure_or_timeout false: a failed acks_late message is rejected (dead-lettered), not acked', async () => {
    const out = await run([
      { op: 'send', ref: 'boom', name: 'tasks.fail', wait: 30 },
      { op: 'send', ref: 'fine', name: 'tasks.add', args: [2, 2], wait: 30 },
    ]);
    const id = out.get('boom')?.id as string;
    expect(out.get('boom')).toMatchObject({ ok: false, state: 'FAILURE' });
    expect(out.get('fine')).toMatchObject({ ok: true, result: 4 });
    const entries = await pollUntil(
      async () => {
        const list = await brokerDb.lrange('celeriac.dead-letter', 0, -1);
        return list.some((e) => e.includes(id)) ? list : undefined;
      },
      { what: 'the failed message in the dead-letter list', timeoutMs: 20_000 },
    );
    const record = entries.find((e) => e.includes(id)) as string;
    expect(record).toContain('task_failed');
    // Only the failed one was rejected, and nothing is left unacked.
    expect(entries.filter((e) => e.includes(out.get('fine')?.id as string))).toEqual([]);
    await pollUntil(async () => ((await brokerDb.hlen('unacked')) === 0 ? true : undefined), {
      what: 'no unacked message',
      timeoutMs: 20_000,
    });
  });

  it('task_inherit_parent_priority: the link callback of a Python-sent task goes out with its priority', async () => {
    const out = await run([
      {
        op: 'send',
        ref: 'parent',
        name: 'tasks.add',
        args: [1, 2],
        options: { priority: 9, link: { name: 'tasks.add', args: [10], options: { queue: 'parked' } } },
        wait: 30,
      },
    ]);
    const parentId = out.get('parent')?.id as string;
    expect(out.get('parent')).toMatchObject({ ok: true, result: 3 });
    const raws = await pollUntil(
      async () => {
        const list = await brokerDb.lrange('parked\x06\x169', 0, -1);
        return list.length === 1 ? list : undefined;
      },
      { what: 'the callback in the priority-9 list of parked', timeoutMs: 20_000 },
    );
    const callback = JSON.parse(raws[0] as string) as {
      headers: Record<string, unknown>;
      properties: Record<string, unknown>;
    };
    expect(callback.headers.task).toBe('tasks.add');
    expect(callback.headers.parent_id).toBe(parentId);
    expect(callback.properties.priority).toBe(9);
    expect(await brokerDb.llen('parked')).toBe(0);
  });
});
