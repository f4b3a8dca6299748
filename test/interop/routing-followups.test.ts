// Follow-ups of exchange routing and broker_transport_options, against real Python Celery 5.2
// (kombu 5.2.4) on a private redis-server: a `celeriac worker` without -Q consumes every
// task_queues entry; add_consumer declares the new queue's binding (exchange options included)
// byte for byte as a Python worker does; global_keyprefix reaches the pidbox both ways; task-sent
// events of exchange-routed sends carry the exchange and routing key, as Python's do.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChildProgram } from '../support/celery-child-process.js';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CELERIAC_BIN, CeleriacWorkerProcess, INTEROP_TASKS_MODULE } from '../support/celery-ts-worker.js';
import { CeleryWorker, PYTASKS_DIR, PYTHON, pytasksEnv } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const SEP = '\x06\x16';
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** Runs a Python snippet with `app` (pytasks, configured by `config`); resolves with its last stdout line as JSON. */
function pythonApp(config: Record<string, unknown>, code: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      ['-c', `import json\nfrom pytasks import app\n${code}`],
      { cwd: PYTASKS_DIR, env: { ...process.env, ...pytasksEnv(config) }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`python failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null'));
      },
    );
  });
}

async function until<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('routing follow-ups across Python Celery and celeriac', { timeout: 180_000 }, () => {
  let server: RedisServer;
  let redis: Redis;
  let base: Record<string, unknown>;
  const stoppers: (() => Promise<unknown>)[] = [];

  const python = (ops: PythonClientOp[], conf: Record<string, unknown>) =>
    runPythonClientByRef(ops, conf, { timeoutMs: 90_000 });

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url(0));
    base = { broker_url: server.url(0), result_backend: server.url(1) };
  });

  afterEach(async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop();
    await redis.flushall();
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('`celeriac worker` without -Q consumes every task_queues entry and declares their bindings, as a Python worker does', async () => {
    const config = {
      ...base,
      // Celery's dict form (Python's Celery reads no list of plain dicts).
      task_queues: {
        alpha: {},
        beta: { exchange: 'media', exchange_type: 'topic', routing_key: 'media.#' },
      },
    };
    // What a Python worker without -Q declares for the same settings.
    const py = new ChildProgram({
      command: PYTHON,
      args: ['-m', 'celery', '-A', 'pytasks', 'worker', '-P', 'solo', '-n', 'pyq@localhost', '-l', 'warning'],
      cwd: PYTASKS_DIR,
      env: pytasksEnv(config),
      label: 'python worker without -Q',
    });
    stoppers.push(() => py.stop(20_000));
    const pythonBindings = await until(
      async () => {
        const keys = (await redis.keys('_kombu.binding.*'))
          .filter((k) => !k.includes('pidbox') && !k.includes('celeryev'))
          .sort();
        return keys.length >= 2 ? keys : undefined;
      },
      60_000,
      `the Python worker declared its queues (output: ${py.tail()})`,
    );
    const pythonMembers = await Promise.all(pythonBindings.map((k) => redis.smembers(k)));
    await stoppers.pop()?.();
    await redis.flushall();

    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-noq-'));
    const readyFile = path.join(dir, 'ready.json');
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
    const worker = new ChildProgram({
      command: process.execPath,
      args: [
        CELERIAC_BIN,
        'worker',
        '-A',
        INTEROP_TASKS_MODULE,
        '-n',
        'noq@localhost',
        '--config',
        configFile,
        '--ready-file',
        readyFile,
      ],
      cwd: ROOT,
      env: { CELERIAC_INTEROP_CONFIG: JSON.stringify(config) },
      label: 'celeriac worker without -Q',
    });
    stoppers.push(async () => {
      await worker.stop(20_000);
      rmSync(dir, { recursive: true, force: true });
    });
    await until(() => existsSync(readyFile) || !worker.running, 30_000, 'the celeriac worker is ready');
    expect(worker.running, worker.tail()).toBe(true);
    expect(JSON.parse(readFileSync(readyFile, 'utf8')).queues).toEqual(['alpha', 'beta']);

    const keys = (await redis.keys('_kombu.binding.*'))
      .filter((k) => !k.includes('pidbox') && !k.includes('celeryev'))
      .sort();
    expect(keys).toEqual(pythonBindings);
    expect(await Promise.all(keys.map((k) => redis.smembers(k)))).toEqual(pythonMembers);
    expect(await redis.smembers('_kombu.binding.media')).toEqual([`media.#${SEP}^media\\..*?$${SEP}beta`]);

    const out = await python(
      [
        { op: 'send', ref: 'alpha', name: 'tasks.add', args: [2, 3], options: { queue: 'alpha' }, wait: 30 },
        {
          op: 'send',
          ref: 'beta',
          name: 'tasks.mul',
          args: [6, 7],
          options: { queue: 'beta', exchange: 'media', routing_key: 'media.video' },
          wait: 30,
        },
      ],
      config,
    );
    expect(out.get('alpha')).toMatchObject({ ok: true, result: 5 });
    expect(out.get('beta')).toMatchObject({ ok: true, result: 42 });
  });

  it('add_consumer with exchange options declares the same binding as a Python worker, and exchange-routed sends reach it', async () => {
    const config = { ...base };
    const py = await CeleryWorker.start({ config, queues: ['celery'], name: 'pyac@localhost', pool: 'solo' });
    stoppers.push(() => py.stop());
    const ts = await CeleriacWorkerProcess.start({ config, queues: ['celery'], name: 'tsac@localhost' });
    stoppers.push(() => ts.stop());
    const replies = await pythonApp(
      config,
      [
        "a = app.control.add_consumer('pyq', exchange='fx_t', exchange_type='topic', routing_key='a.*.#', destination=['pyac@localhost'], reply=True, timeout=5)",
        "b = app.control.add_consumer('tsq', exchange='fx_t', exchange_type='topic', routing_key='a.*.#', destination=['tsac@localhost'], reply=True, timeout=5)",
        "c = app.control.add_consumer('pyd', exchange='fx_d', routing_key='d.key', destination=['pyac@localhost'], reply=True, timeout=5)",
        "d = app.control.add_consumer('tsd', exchange='fx_d', routing_key='d.key', destination=['tsac@localhost'], reply=True, timeout=5)",
        "e = app.control.add_consumer('tsplain', destination=['tsac@localhost'], reply=True, timeout=5)",
        'print(json.dumps([a, b, c, d, e]))',
      ].join('\n'),
    );
    expect(replies).toEqual([
      [{ 'pyac@localhost': { ok: 'add consumer pyq' } }],
      [{ 'tsac@localhost': { ok: 'add consumer tsq' } }],
      [{ 'pyac@localhost': { ok: 'add consumer pyd' } }],
      [{ 'tsac@localhost': { ok: 'add consumer tsd' } }],
      [{ 'tsac@localhost': { ok: 'add consumer tsplain' } }],
    ]);
    // The Python worker binds from its consumer thread after replying: wait for its members.
    const topic = await until(
      async () => {
        const m = (await redis.smembers('_kombu.binding.fx_t')).sort();
        return m.length === 2 ? m : null;
      },
      20_000,
      'both topic bindings',
    );
    expect(topic).toEqual([`a.*.#${SEP}^a\\..*?[^\\.]\\..*?$${SEP}pyq`, `a.*.#${SEP}^a\\..*?[^\\.]\\..*?$${SEP}tsq`]);
    const direct = await until(
      async () => {
        const m = (await redis.smembers('_kombu.binding.fx_d')).sort();
        return m.length === 2 ? m : null;
      },
      20_000,
      'both direct bindings',
    );
    expect(direct).toEqual([`d.key${SEP}${SEP}pyd`, `d.key${SEP}${SEP}tsd`]);
    // Without exchange options: exchange = queue, direct, routing key = queue (Celery's add_task_queue).
    expect(await redis.smembers('_kombu.binding.tsplain')).toEqual([`tsplain${SEP}${SEP}tsplain`]);

    // Stop the Python worker, so what is routed to fx_d now waits in pyd while tsd is consumed by celeriac.
    await stoppers.splice(0, 1)[0]?.();
    const out = await python(
      [
        {
          op: 'send',
          ref: 'direct',
          name: 'tasks.add',
          args: [20, 22],
          options: { exchange: 'fx_d', routing_key: 'd.key' },
        },
        { op: 'send', ref: 'plain', name: 'tasks.add', args: [1, 1], options: { queue: 'tsplain' }, wait: 30 },
      ],
      config,
    );
    expect(out.get('plain')).toMatchObject({ ok: true, result: 2 });
    const direct42 = await pythonApp(
      config,
      `print(json.dumps(app.AsyncResult(${JSON.stringify(out.get('direct')?.id)}).get(timeout=30)))`,
    );
    expect(direct42).toBe(42);
    // kombu's direct exchange copied the message to both bound queues: pyd kept its copy.
    expect(await redis.llen('pyd')).toBe(1);
  });

  it('global_keyprefix: a Python client pings and adds a consumer to a celeriac worker with the same prefix; the keys stay under it', async () => {
    const config = { ...base, broker_transport_options: { global_keyprefix: 'pfx:' } };
    const ts = await CeleriacWorkerProcess.start({ config, queues: ['celery'], name: 'tspfx@localhost' });
    stoppers.push(() => ts.stop());
    const replies = await pythonApp(
      config,
      [
        "p = app.control.ping(destination=['tspfx@localhost'], timeout=5)",
        "a = app.control.add_consumer('late', destination=['tspfx@localhost'], reply=True, timeout=5)",
        "q = app.control.inspect(destination=['tspfx@localhost'], timeout=5).active_queues()",
        'print(json.dumps([p, a, sorted(x["name"] for x in q["tspfx@localhost"])]))',
      ].join('\n'),
    );
    expect(replies).toEqual([
      [{ 'tspfx@localhost': { ok: 'pong' } }],
      [{ 'tspfx@localhost': { ok: 'add consumer late' } }],
      ['celery', 'late'],
    ]);
    expect(await redis.smembers('pfx:_kombu.binding.late')).toEqual([`late${SEP}${SEP}late`]);
    const out = await python(
      [{ op: 'send', ref: 'late', name: 'tasks.add', args: [3, 4], options: { queue: 'late' }, wait: 30 }],
      config,
    );
    expect(out.get('late')).toMatchObject({ ok: true, result: 7 });
    const stray = (await redis.keys('*')).filter((k) => !k.startsWith('pfx:'));
    expect(stray).toEqual([]);
  });

  it('task-sent events of an exchange-routed send name the exchange and routing key, as a Python client sends them (under the prefix)', async () => {
    const config = {
      ...base,
      broker_transport_options: { global_keyprefix: 'pfx:' },
      task_send_sent_event: true,
      task_queues: { video: { exchange: 'media', routing_key: 'media.video' } },
    };
    // A queue bound to the exchange, so both sends are routable.
    await redis.sadd('pfx:_kombu.binding.media', `media.video${SEP}${SEP}video`);
    const sub = new Redis(server.url(0));
    stoppers.push(async () => sub.disconnect());
    const events: Record<string, unknown>[] = [];
    sub.on('pmessage', (_pattern, _channel, message: string) => {
      const envelope = JSON.parse(message) as { body: string };
      events.push(JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as Record<string, unknown>);
    });
    await sub.psubscribe('pfx:/0.celeryev/task.sent');

    await python(
      [
        {
          op: 'send',
          ref: 'py',
          name: 'tasks.add',
          args: [1, 2],
          options: { exchange: 'media', routing_key: 'media.video' },
        },
      ],
      config,
    );
    const app = new Celeriac('sent', config, { logger: createLogger({ level: 'silent' }) });
    stoppers.push(() => app.close());
    await app.sendTask('tasks.add', [1, 2], {}, { exchange: 'media', routing_key: 'media.video' });
    await until(() => events.length === 2, 20_000, 'two task-sent events');
    const [pyEvent, tsEvent] = events;
    const fields = (e: Record<string, unknown> | undefined) => ({
      exchange: e?.exchange,
      routing_key: e?.routing_key,
      name: e?.name,
    });
    expect(fields(pyEvent)).toEqual({ exchange: 'media', routing_key: 'media.video', name: 'tasks.add' });
    expect(fields(tsEvent)).toEqual(fields(pyEvent));
    expect(await redis.llen('pfx:video')).toBe(2);
  });
});
