import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxCall, PY_DIR, PYTHON, pyEnv, runPython } from '../../libs/control-plane/test/helpers.js';
import { ChildProgram } from '../support/celery-child-process.js';
import { CELERIAC_BIN } from '../support/celery-ts-worker.js';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';
import { eventually } from './control-support.js';

/**
 * Celery's control and event plane over RabbitMQ: Debian's Celery 5.2 CLI (`inspect`, `control`),
 * kombu's Mailbox (mingle's `hello`), a Python `Receiver` + `State()`, our TS `app.control` and
 * `celeriac inspect`, against a `celeriac worker -E` on an AMQP broker (results, revokes and fleet
 * limits in Redis), beside a Python worker on the same vhost; and the node's recovery after its
 * control connection is cut. Python processes: four (event capture, worker, one CLI batch, one
 * Mailbox call); one `celeriac inspect`.
 */

const NODE = 'ts-amqp@localhost';
const PY = 'py-amqp@localhost';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TASKS = path.join(ROOT, 'test/interop/ts/control-tasks.ts');

interface Captured {
  workers: Record<string, { alive: boolean; heartbeats: number; sw_ident: string; processed: number }>;
  tasks: Record<string, { state: string; name: string; hostname: string | null; result: string | null }>;
  types: Record<string, number>;
  by_host: Record<string, Record<string, number>>;
  last: Record<string, Record<string, number>>;
}

let vhost: RabbitVhost;
let redis: RedisServer;
let db: Redis;
let app: Celeriac;
let dir: string;
let ours: ChildProgram;
let py: ChildProgram;
let capture: { program: ChildProgram; result: Promise<Captured> };
/** When our worker was ready: its heartbeats count from here. */
let oursReadyAt = 0;
/** When the node answered again after its control connection was cut. */
let restoredAt = 0;

function python(args: string[], label: string): ChildProgram {
  return new ChildProgram({
    command: PYTHON,
    args,
    cwd: PY_DIR,
    env: pyEnv(vhost.url(), redis.url(0)),
    label,
  });
}

/** `celeriac worker -E` on the vhost, results in Redis; resolves once its ready file exists. */
async function startOurWorker(): Promise<ChildProgram> {
  const config = {
    broker_url: vhost.url(),
    result_backend: redis.url(0),
    // A fleet limit: kept in the result backend's Redis, the broker being RabbitMQ.
    task_annotations: { 'ctlapp.exclusive': { fleet_concurrency: 1 } },
    // Celery's control_queue_ttl (default 300 s) becomes the node queue's x-message-ttl.
    control_queue_ttl: 150.0,
  };
  const configFile = path.join(dir, 'config.json');
  const readyFile = path.join(dir, 'ready.json');
  writeFileSync(configFile, JSON.stringify(config));
  const program = new ChildProgram({
    command: process.execPath,
    args: [
      CELERIAC_BIN,
      'worker',
      '-A',
      TASKS,
      '-Q',
      'celery',
      '-c',
      '2',
      '-n',
      NODE,
      '-E',
      '--config',
      configFile,
      '--ready-file',
      readyFile,
    ],
    cwd: ROOT,
    env: { CELERIAC_INTEROP_CONFIG: JSON.stringify(config) },
    label: `celeriac worker ${NODE}`,
  });
  await eventually(
    () => {
      if (!program.running) throw new Error(`${NODE} exited:\n${program.tail()}`);
      return existsSync(readyFile);
    },
    30_000,
    `${NODE} ready`,
  );
  return program;
}

/** Closes our worker's control-plane connection from the RabbitMQ side (`rabbitmqctl close_connection`), as a broker restart would. */
async function closeOurControlConnection(): Promise<number> {
  const run = promisify(execFile);
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    '-q',
    '--no-table-headers',
    'pid',
    'vhost',
    'client_properties',
  ]);
  const name = `{"connection_name","celeriac control plane ${NODE}"}`;
  const pids = stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([, host, ...props]) => host === vhost.name && props.join('\t').includes(name))
    .map(([pid]) => pid!);
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'test: connection cut']);
  return pids.length;
}

async function status(id: string): Promise<string | undefined> {
  const raw = await db.get(`celery-task-meta-${id}`);
  return raw === null ? undefined : (JSON.parse(raw) as { status: string }).status;
}

beforeAll(async () => {
  [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
  db = new Redis(redis.url(0));
  dir = mkdtempSync(path.join(tmpdir(), 'celeriac-amqp-ctl-'));
  app = new Celeriac('amqpctl', { broker_url: vhost.url(), result_backend: redis.url(0), task_send_sent_event: true });
  // The receiver first, so it sees our worker come online; it runs until our worker's worker-offline (the last test).
  const program = python(['events_state.py', '50', NODE], 'events_state.py');
  capture = {
    program,
    result: program.exited.then(() => JSON.parse(program.output().trim().split('\n').at(-1) ?? '') as Captured),
  };
  await program.waitForOutput(/capturing/, 20_000);
  py = python(
    ['-m', 'celery', '-A', 'ctlapp', 'worker', '-P', 'solo', '-E', '-n', PY, '-Q', 'pyq', '-l', 'info'],
    `worker ${PY}`,
  );
  [ours] = await Promise.all([startOurWorker(), py.waitForOutput(/ ready\.\s*$/m, 30_000)]);
  oursReadyAt = Date.now();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([ours?.stop(20_000), py?.stop(10_000), capture?.program.stop(5_000)]);
  db?.disconnect();
  await redis?.stop();
  await vhost?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('celery inspect / control over RabbitMQ against a celeriac worker', () => {
  it('inspect ping|active|registered|stats and control rate_limit / revoke / terminate steer it; ping lists both fleets', async () => {
    const running = await app.sendTask('ctlapp.abortable', [30]);
    const later = await app.sendTask('ctlapp.record', [], {}, { countdown: 60 });
    // Our TS inspect over AMQP sees the running task.
    const inspect = app.control.inspect({ destination: [NODE] });
    await eventually(async () => ((await inspect.active())[NODE] as unknown[] | undefined)?.length === 1, 10_000);
    const d = ['-d', NODE];
    const batch = await runPython(['cli_batch.py'], vhost.url(), {
      resultBackendUrl: redis.url(0),
      timeoutMs: 60_000,
      input: JSON.stringify(
        [
          ['inspect', 'ping', '-t', '1'],
          ['inspect', 'ping', ...d],
          ['inspect', 'active', ...d],
          ['inspect', 'registered', ...d],
          ['inspect', 'stats', ...d, '-j'],
          ['control', 'rate_limit', 'ctlapp.add', '50/s', ...d],
          ['control', 'revoke', later.id, ...d],
          ['control', 'terminate', 'SIGTERM', running.id, ...d],
        ].map((argv) => ['-A', 'ctlapp', ...argv]),
      ),
    });
    expect(batch.code, batch.stderr).toBe(0);
    const runs = JSON.parse(batch.stdout.trim().split('\n').at(-1)!) as Array<{
      argv: string[];
      exit_code: number;
      output: string;
    }>;
    const pretty = runs.map((r) => `$ celery ${r.argv.join(' ')} → ${r.exit_code}\n${r.output}`).join('\n');
    for (const run of runs) expect(run.exit_code, pretty).toBe(0);
    const out = (i: number) => runs[i]!.output;
    expect(out(0)).toContain(`->  ${NODE}: OK\n        pong`);
    expect(out(0)).toContain(`->  ${PY}: OK\n        pong`);
    expect(out(0)).toContain('2 nodes online.');
    expect(out(1)).toBe(`->  ${NODE}: OK\n        pong\n\n1 node online.\n`);
    expect(out(2)).toContain(`'id': '${running.id}', 'name': 'ctlapp.abortable', 'args': [30]`);
    expect(out(3)).toBe(
      `->  ${NODE}: OK\n    * ctlapp.abortable\n    * ctlapp.add\n    * ctlapp.exclusive\n    * ctlapp.fail\n    * ctlapp.record\n    * ctlapp.sleep\n    * ctlapp.stamp\n\n1 node online.\n`,
    );
    const stats = JSON.parse(out(4))[NODE];
    expect(stats.pool['max-concurrency']).toBe(2);
    expect(stats.broker).toMatchObject({ transport: 'amqp', port: 5672, virtual_host: vhost.name, userid: 'guest' });
    expect(JSON.stringify(stats)).not.toContain('guest:guest');
    expect(out(5)).toBe(`->  ${NODE}: OK\n        new rate limit set successfully\n`);
    expect(out(6)).toBe(`->  ${NODE}: OK\n        tasks ${later.id} flagged as revoked\n`);
    expect(out(7)).toBe(`->  ${NODE}: OK\n        terminate: ${running.id}\n`);

    // Our node queue is declared as kombu declares a Python node's (a different declare of one name would be refused),
    // with the worker's control_queue_ttl as x-message-ttl.
    for (const [node, ttl] of [
      [NODE, 150_000],
      [PY, 300_000],
    ] as const) {
      const queue = await vhost.queueInfo(`${node}.celery.pidbox`);
      expect(queue?.durable, node).toBe(false);
      expect(queue?.arguments, node).toContain(`{"x-message-ttl",${ttl}}`);
      expect(queue?.arguments, node).toContain('{"x-expires",10000}');
    }

    // terminate: REVOKED within 2 s (the abort reached the task); the countdown task: REVOKED, never runs.
    await eventually(async () => (await status(running.id)) === 'REVOKED', 2_000, 'terminated task REVOKED');
    expect(await db.hget('ctl.aborted', running.id)).toBe('TaskRevokedError');
    await eventually(async () => (await status(later.id)) === 'REVOKED', 2_000, 'countdown task REVOKED');
    expect(await db.hexists('ctl.runs', later.id)).toBe(0);
  }, 60_000);

  it('our TS app.control and `celeriac inspect` over RabbitMQ: ping both nodes, inspect, rate_limit, revoke, mingle', async () => {
    // `celeriac inspect` (our CLI, built on app.control) over RabbitMQ too.
    const cli = await promisify(execFile)(
      process.execPath,
      [CELERIAC_BIN, 'inspect', 'ping', '-b', vhost.url(), '-j'],
      {
        cwd: ROOT,
        timeout: 30_000,
      },
    );
    expect(JSON.parse(cli.stdout)).toEqual({ [NODE]: { ok: 'pong' }, [PY]: { ok: 'pong' } });
    const pongs = await app.control.ping({ timeoutMs: 1_000 });
    expect(Object.assign({}, ...pongs)).toEqual({ [NODE]: { ok: 'pong' }, [PY]: { ok: 'pong' } });
    const registered = await app.control.inspect({ destination: [NODE, PY] }).registered();
    // Celery's default taskinfoitems show the rate limit the CLI set above.
    expect(registered[NODE]).toEqual([
      'ctlapp.abortable',
      'ctlapp.add [rate_limit=50/s]',
      'ctlapp.exclusive',
      'ctlapp.fail',
      'ctlapp.record',
      'ctlapp.sleep',
      'ctlapp.stamp',
    ]);
    expect(registered[PY]).toEqual(expect.arrayContaining(['ctlapp.add', 'ctlapp.sleep']));
    expect(await app.control.rateLimit('ctlapp.add', '100/s', { destination: [PY], reply: true })).toEqual([
      { [PY]: { ok: 'new rate limit set successfully' } },
    ]);
    // A revoke from TS lands in the result backend's shared set (where workers on RabbitMQ read it) and reaches the node.
    const doomed = await app.sendTask('ctlapp.record', [], {}, { countdown: 60 });
    const replies = await app.control.revoke(doomed.id, { destination: [NODE], reply: true });
    expect(replies).toEqual([{ [NODE]: { ok: `tasks ${doomed.id} flagged as revoked` } }]);
    expect(await db.zscore('celeriac.revoked', doomed.id)).not.toBeNull();
    await eventually(async () => (await status(doomed.id)) === 'REVOKED', 3_000, 'TS-revoked task REVOKED');

    // Mingle over the AMQP pidbox, as a Python worker starting now runs it (kombu's Mailbox `hello`):
    // our node answers with its revoked ids and takes the sender's (times on CLOCK_MONOTONIC, 1.5 s ago).
    const monotonicS = Number(process.hrtime.bigint()) / 1e9;
    const hello = await mailboxCall(
      vhost.url(),
      'hello',
      { from_node: 'py-late@localhost', revoked: { 'py-only-revoke': monotonicS - 1.5 } },
      { destination: [NODE] },
    );
    const ourHello = hello[0]?.[NODE] as { revoked: Record<string, unknown>; clock: number } | undefined;
    expect(Object.keys(ourHello?.revoked ?? {})).toContain(doomed.id);
    expect((await app.control.inspect({ destination: [NODE] }).revoked())[NODE]).toContain('py-only-revoke');
  }, 30_000);

  it('after its control connection is cut, the node answers again and keeps sending events', async () => {
    expect(await closeOurControlConnection()).toBe(1);
    await eventually(
      () => /control\.amqp_connection_restored/.test(ours.output()),
      15_000,
      'control connection restored',
    );
    await eventually(
      async () => (await app.control.ping({ destination: [NODE], timeoutMs: 500 })).length === 1,
      10_000,
      'pong after the cut',
    );
    expect(ours.output()).toContain('control.amqp_connection_lost');
    expect(ours.running).toBe(true);
    restoredAt = Date.now();
  }, 30_000);

  it('fleet limits hold on RabbitMQ through the result backend Redis: fleet_concurrency 1 never overlaps', async () => {
    const sent = await Promise.all([1, 2, 3].map(() => app.sendTask('ctlapp.exclusive', [])));
    await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })));
    const spans = (await db.lrange('ctl.spans', 0, -1)).map((s) => JSON.parse(s) as [number, number]);
    spans.sort((a, b) => a[0] - b[0]);
    expect(spans).toHaveLength(3);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(ours.output()).not.toContain('fleet_limits_unavailable');
  }, 20_000);

  it('a Python Receiver + State() sees our worker online, beating and offline, and its tasks received/started/succeeded', async () => {
    const ok = await app.sendTask('ctlapp.add', [2, 3]);
    expect(await ok.get({ timeout: 5_000 })).toBe(5);
    // A heartbeat after the cut (a new channel on the new connection), then a warm stop.
    await eventually(() => Date.now() - restoredAt > 2_500, 10_000, 'a heartbeat period after the cut');
    // Two heartbeat periods (2 s) since it came online, then a warm stop: worker-offline ends the capture.
    await eventually(() => Date.now() - oursReadyAt > 4_500, 10_000, 'two heartbeat periods');
    expect(await ours.stop(20_000)).toEqual({ code: 0, signal: null });
    const captured = await capture.result;
    const w = captured.workers[NODE];
    expect(w?.sw_ident).toBe('celeriac');
    expect(w?.alive).toBe(false); // it said worker-offline
    expect(captured.workers[PY]?.alive).toBe(true);
    expect(captured.tasks[ok.id]).toMatchObject({ state: 'SUCCESS', name: 'ctlapp.add', hostname: NODE, result: '5' });
    const ourEvents = captured.by_host[NODE] ?? {};
    expect(ourEvents).toMatchObject({ 'worker-online': 1, 'worker-offline': 1 });
    expect(ourEvents['worker-heartbeat']).toBeGreaterThanOrEqual(2);
    expect(captured.last[NODE]?.['worker-heartbeat']).toBeGreaterThan(restoredAt / 1000);
    expect(ourEvents['task-received']).toBeGreaterThanOrEqual(1);
    expect(ourEvents['task-started']).toBeGreaterThanOrEqual(1);
    expect(ourEvents['task-succeeded']).toBeGreaterThanOrEqual(1);
    expect(ourEvents['task-revoked']).toBeGreaterThanOrEqual(1);
    expect(captured.by_host[PY]?.['worker-online']).toBe(1);
    // Our client's task_send_sent_event goes to the topic exchange too.
    expect(captured.types['task-sent']).toBeGreaterThanOrEqual(1);
    expect(py.output()).not.toMatch(/Traceback/);
    expect(ours.output()).not.toMatch(/amqp_plane_unavailable|control_close_timeout/);
    // The stop cancelled the pidbox consumer: RabbitMQ drops the auto-delete node queue, as for a Python node.
    await eventually(async () => (await vhost.queueCounts(`${NODE}.celery.pidbox`)) === null, 5_000, 'node queue gone');
  }, 30_000);
});
