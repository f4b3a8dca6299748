// result_serializer across languages, with the real Python Celery 5.2 client and worker and the
// built `celeriac worker` (run `npx tsc -b tsconfig.build.json` first): msgpack results of a
// celeriac worker read by Python's AsyncResult.get() and by our client, Python's msgpack results
// read by our client, json unchanged, and result_accept_content refusals on both sides.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Celeriac, ConfigError, ResultContentDisallowedError } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPythonClient } from '../../../test/support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../../../test/support/celery-ts-worker.js';
import { CeleryWorker, PYTHON } from '../../../test/support/celery-worker.js';
import { RedisServer } from '../../../test/support/redis-server.js';

const execFileAsync = promisify(execFile);

describe('result_serializer with Python Celery', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let base: Record<string, unknown>;
  const workers: { stop(): Promise<unknown> }[] = [];
  const apps: Celeriac[] = [];

  const client = (settings: Record<string, unknown> = {}) => {
    const app = new Celeriac('serializer-test', { ...base, ...settings });
    apps.push(app);
    return app;
  };
  const python = (ops: Parameters<typeof runPythonClient>[0], settings: Record<string, unknown>) =>
    runPythonClient(ops, { ...base, ...settings });

  beforeAll(async () => {
    redis = await RedisServer.start();
    base = { broker_url: redis.url(0), result_backend: redis.url(1) };
    const accept = { accept_content: ['json', 'msgpack'] };
    workers.push(
      ...(await Promise.all([
        CeleriacWorkerProcess.start({
          config: { ...base, ...accept, result_serializer: 'msgpack' },
          queues: ['ts_msgpack'],
          concurrency: 2,
        }),
        CeleriacWorkerProcess.start({ config: { ...base, ...accept }, queues: ['ts_json'], concurrency: 2 }),
        CeleryWorker.start({ config: { ...base, ...accept, result_serializer: 'msgpack' }, queues: ['py_msgpack'] }),
      ])),
    );
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
  });

  it("Python's AsyncResult.get() reads the msgpack results of a celeriac worker, and json ones as before", async () => {
    const out = await python(
      [
        { op: 'send', ref: 'ok', name: 'tasks.add', args: [2, 3], options: { queue: 'ts_msgpack' }, wait: 20 },
        { op: 'send', ref: 'fail', name: 'tasks.fail', options: { queue: 'ts_msgpack' }, wait: 20 },
        {
          op: 'send',
          ref: 'text',
          name: 'tasks.echo',
          args: [{ s: 'héllo ✓', n: [1.5, null] }],
          options: { queue: 'ts_msgpack' },
          wait: 20,
        },
      ],
      { result_serializer: 'msgpack', result_accept_content: ['msgpack'] },
    );
    // Before: DecodeError('unpack(b) received extra data'): the worker stored JSON whatever the setting.
    expect(out[0]).toMatchObject({ ok: true, state: 'SUCCESS', result: 5 });
    expect(out[1]).toMatchObject({ ok: false, state: 'FAILURE', exc_type: 'ValueError', exc_args: ['bad value', 42] });
    expect(out[1]?.traceback).toMatch(/Traceback/);
    expect(out[2]).toMatchObject({ ok: true, result: { s: 'héllo ✓', n: [1.5, null] } });

    const json = await python(
      [{ op: 'send', ref: 'json', name: 'tasks.add', args: [4, 5], options: { queue: 'ts_json' }, wait: 20 }],
      {},
    );
    expect(json[0]).toMatchObject({ ok: true, state: 'SUCCESS', result: 9 });
  });

  it('a Python client that accepts only json refuses msgpack results, as Celery does', async () => {
    const sent = await client({ result_accept_content: ['msgpack'] }).sendTask(
      'tasks.add',
      [1, 1],
      {},
      {
        queue: 'ts_msgpack',
      },
    );
    expect(await sent.get({ timeout: 20_000 })).toBe(2);
    const script = [
      'import json, sys',
      'from celery import Celery',
      'cfg = json.loads(sys.argv[1])',
      "app = Celery('refuse', set_as_current=False)",
      'app.conf.update(cfg)',
      'try:',
      '    print(json.dumps({"ok": True, "result": app.AsyncResult(sys.argv[2]).get(timeout=10)}))',
      'except Exception as exc:',
      '    print(json.dumps({"ok": False, "exc_type": type(exc).__name__, "message": str(exc)}))',
    ].join('\n');
    const settings = { ...base, result_serializer: 'msgpack', result_accept_content: ['json'] };
    const { stdout } = await execFileAsync(PYTHON, ['-c', script, JSON.stringify(settings), sent.id], {
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, exc_type: 'ContentDisallowed' });
  });

  it('our client reads msgpack results of celeriac and Python workers, and json ones', async () => {
    const app = client({ result_serializer: 'msgpack', result_accept_content: ['json', 'msgpack'] });
    const fromTs = await app.sendTask('tasks.add', [2, 40], {}, { queue: 'ts_msgpack' });
    const fromPy = await app.sendTask('tasks.echo', [{ s: 'ü', big: 2 ** 40 }], {}, { queue: 'py_msgpack' });
    const failed = await app.sendTask('tasks.fail', [], {}, { queue: 'py_msgpack' });
    const json = await app.sendTask('tasks.add', [1, 2], {}, { queue: 'ts_json' });
    expect(await fromTs.get({ timeout: 20_000 })).toBe(42);
    expect(await fromPy.get({ timeout: 20_000 })).toEqual({ s: 'ü', big: 2 ** 40 });
    await expect(failed.get({ timeout: 20_000 })).rejects.toMatchObject({ excType: 'ValueError' });
    expect(await json.get({ timeout: 20_000 })).toBe(3);
  });

  it('our client honours result_accept_content: a result in another serializer is refused with a clear error', async () => {
    const producer = client();
    const msgpackResult = await producer.sendTask('tasks.add', [1, 2], {}, { queue: 'ts_msgpack' });
    const jsonResult = await producer.sendTask('tasks.add', [3, 4], {}, { queue: 'ts_json' });
    // accept_content defaults to ["json"] and result_accept_content is unset: msgpack is refused.
    const started = Date.now();
    const refused = await msgpackResult.get({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(refused).toBeInstanceOf(ResultContentDisallowedError);
    expect(refused).toMatchObject({ code: 'RESULT_CONTENT_DISALLOWED', serializer: 'msgpack' });
    expect((refused as Error).message).toContain('add "msgpack" to result_accept_content');
    expect(await jsonResult.get({ timeout: 20_000 })).toBe(7);

    const msgpackOnly = client({ result_accept_content: ['application/x-msgpack'] });
    await expect(msgpackOnly.AsyncResult(jsonResult.id).refresh()).rejects.toMatchObject({ serializer: 'json' });
    expect((await msgpackOnly.AsyncResult(msgpackResult.id).refresh()).result).toBe(3);
  });

  it('our client refuses result_serializer pickle with a clear message', async () => {
    const app = client({ result_serializer: 'pickle' });
    const error = await app
      .AsyncResult('x')
      .refresh()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('result_serializer "pickle" is not supported');
  });
});
