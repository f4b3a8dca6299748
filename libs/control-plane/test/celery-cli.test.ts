import { ControlServer, EventDispatcher, LamportClock, RevokedSet } from '@celeriac/control-plane';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger, FakeTarget, fixture, inspector, mailboxCall, request, runPython } from './helpers.js';

/**
 * Debian's Celery 5.2 CLI against a Celeriac pidbox node: every command line of the issue prints
 * our node's answer as it prints a Python node's (compared with the captured Python output).
 */

const HOST = 'celeriac-cli@test';

interface CliRun {
  argv: string[];
  exit_code: number;
  output: string;
}
const pidbox = fixture<{ cli_runs: Record<string, { stdout: string }>; worker_replies_in_order: unknown[] }>(
  'remote_control_pidbox',
);

let redis: RedisServer;
let commands: Redis;
let server: ControlServer;
let revoked: RevokedSet;
let events: EventDispatcher;
const target = new FakeTarget(HOST);
const log = capturingLogger();

/** Runs many `celery -A ctlapp ...` lines in one Python process (cli_batch.py). */
async function celery(lines: string[][]): Promise<CliRun[]> {
  const run = await runPython(['cli_batch.py'], redis.url(), {
    input: JSON.stringify(lines.map((argv) => ['-A', 'ctlapp', ...argv])),
    timeoutMs: 60_000,
  });
  if (run.code !== 0) throw new Error(`cli_batch.py failed (${run.code}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as CliRun[];
}

beforeAll(async () => {
  redis = await RedisServer.start();
  commands = inspector(redis.url());
  const clock = new LamportClock();
  revoked = new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 });
  await revoked.start();
  events = new EventDispatcher({ url: redis.url(), hostname: HOST, logger: log.logger, clock });
  // The running request of the captured `inspect active` (remote_control_pidbox.json), on our node.
  target.activeList = [
    {
      ...request('bcfbf484-4e41-467a-9cf7-1a2037a5a44a', 'wireapp.slow_ack', [6], true),
      timeStart: 1795556001.555388,
      acknowledged: false,
      workerPid: 6891,
    },
  ];
  target.scheduledList = [
    { eta: '2030-01-01T00:00:00+00:00', priority: 6, request: request('eta-1', 'ctlapp.add', [1, 2], false) },
  ];
  server = new ControlServer({ url: redis.url(), target, revoked, logger: log.logger, clock, events });
  await server.start();
});

afterAll(async () => {
  await server?.close();
  await events?.close();
  revoked?.close();
  commands?.disconnect();
  await redis?.stop();
});

describe('celery inspect / control / status against a Celeriac node', () => {
  it('print our node like a Python node, exit 0, and steer it', async () => {
    const d = ['-d', HOST];
    // One Python process for every line (cli_batch.py). Its in-process client only survives one
    // collection that ends by timeout, so every line but the last names our node (`-d`), which
    // ends the collection at our reply; the timeout-ended lines run as real binaries below.
    const runs = await celery([
      ['inspect', 'active', ...d],
      ['inspect', 'registered', ...d],
      ['inspect', 'stats', ...d, '-j'],
      ['inspect', 'reserved', ...d],
      ['inspect', 'scheduled', ...d],
      ['inspect', 'active_queues', ...d, '-j'],
      ['control', 'rate_limit', 'ctlapp.add', '10/x', ...d],
      ['control', 'time_limit', 'ctlapp.add', '10', '20', ...d],
      ['control', 'add_consumer', 'q2', ...d],
      ['control', 'cancel_consumer', 'q2', ...d],
      ['control', 'enable_events', ...d],
      ['control', 'revoke', 'r-1', 'r-2', ...d],
      ['inspect', 'revoked', ...d],
      ['inspect', 'query_task', 'bcfbf484-4e41-467a-9cf7-1a2037a5a44a', ...d, '-j'],
      ['inspect', 'conf', ...d, '-j'],
      ['inspect', 'report', ...d],
      ['control', 'rate_limit', 'ctlapp.add', '10/m', '-t', '0.5'],
    ]);
    const out = (i: number) => runs[i]!.output;
    const pretty = runs.map((r) => `$ celery ${r.argv.join(' ')} → ${r.exit_code}\n${r.output}`).join('\n');
    for (const run of runs) expect(run.exit_code, pretty).toBe(0);

    // Byte for byte what the captured Python node printed, with our name.
    expect(out(0)).toBe(pidbox.cli_runs.cli_inspect_active!.stdout.replaceAll('w2@wire', HOST));
    expect(out(1)).toBe(`->  ${HOST}: OK\n    * ctlapp.add\n    * ctlapp.mul [rate_limit=10/m]\n\n1 node online.\n`);
    const stats = JSON.parse(out(2))[HOST];
    expect(Object.keys(stats).sort()).toEqual([
      'broker',
      'clock',
      'pid',
      'pool',
      'prefetch_count',
      'rusage',
      'total',
      'uptime',
    ]);
    expect(stats.pool['max-concurrency']).toBe(4);
    expect(stats.broker).toMatchObject({ hostname: '127.0.0.1', port: redis.port, transport: 'redis' });
    expect(out(3)).toBe(`->  ${HOST}: OK\n    - empty -\n\n1 node online.\n`);
    expect(out(4)).toContain(
      `->  ${HOST}: OK\n    * {'eta': '2030-01-01T00:00:00+00:00', 'priority': 6, 'request': {'id': 'eta-1'`,
    );
    const queues = JSON.parse(out(5))[HOST];
    const captured = (pidbox as unknown as { python_api_replies: Record<string, Record<string, unknown[]>> })
      .python_api_replies.api_inspect_active_queues!['w2@wire'];
    expect(queues).toEqual(captured);
    expect(out(6)).toBe(`->  ${HOST}: ERROR\n        KeyError('x')\n`);
    expect(out(7)).toBe(`->  ${HOST}: OK\n        time limits set successfully\n`);
    expect(out(8)).toBe(`->  ${HOST}: OK\n        add consumer q2\n`);
    expect(out(9)).toBe(`->  ${HOST}: OK\n        no longer consuming from q2\n`);
    expect(out(10)).toBe(`->  ${HOST}: OK\n        task events enabled\n`);
    expect(out(11)).toBe(`->  ${HOST}: OK\n        tasks r-1, r-2 flagged as revoked\n`);
    expect(out(12)).toBe(`->  ${HOST}: OK\n    * r-1\n    * r-2\n\n1 node online.\n`);
    expect(JSON.parse(out(13))[HOST]['bcfbf484-4e41-467a-9cf7-1a2037a5a44a'][0]).toBe('active');
    expect(JSON.parse(out(14))[HOST]).toEqual({ broker_url: 'redis://127.0.0.1:6379/0', with_defaults: false });
    expect(out(15)).toContain('software -> celeriac');
    expect(out(16)).toBe(pidbox.cli_runs.cli_control_rate_limit!.stdout.replace('w2@wire', HOST));

    // The levers reached the target.
    expect(target.calls).toContainEqual(['rateLimit', 'ctlapp.add', '10/m']);
    expect(target.calls).toContainEqual(['timeLimit', 'ctlapp.add', 10, 20]);
    expect(target.calls).toContainEqual(['addConsumer', 'q2']);
    expect(target.calls).toContainEqual(['cancelConsumer', 'q2']);
    expect(target.calls).toContainEqual(['revoke', ['r-1', 'r-2'], { terminate: false, signal: 'SIGTERM' }]);
    expect(events.taskEventsEnabled).toBe(true);
    expect(revoked.has('r-1')).toBe(true);
  }, 60_000);

  it('the real `python3 -m celery` binary: inspect ping and status exit 0, a wrong --destination 69', async () => {
    const celeryBin = (...argv: string[]) => runPython(['-m', 'celery', '-A', 'ctlapp', ...argv], redis.url());
    const [ping, status, mine, nobody] = await Promise.all([
      celeryBin('inspect', 'ping', '-t', '0.5'),
      celeryBin('status', '-t', '0.5'),
      celeryBin('inspect', 'ping', '-d', HOST),
      celeryBin('inspect', 'ping', '-d', 'nobody@nowhere', '-t', '0.5'),
    ]);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toBe(pidbox.cli_runs.cli_inspect_ping!.stdout.replace('w2@wire', HOST));
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toBe(`->  ${HOST}: OK\n\n1 node online.\n`);
    expect(mine.code, mine.stderr).toBe(0);
    expect(nobody.code).toBe(69);
    expect(nobody.stderr + nobody.stdout).toContain('No nodes replied within time constraint');
  }, 30_000);

  it('an unknown command (sent through kombu Mailbox) gets Celery error reply, and shutdown none', async () => {
    const [unknown, shutdown] = await Promise.all([
      mailboxCall(redis.url(), 'no_such_command', {}, { destination: [HOST] }),
      mailboxCall(redis.url(), 'shutdown', {}, { timeoutS: 0.5 }),
    ]);
    expect(unknown).toEqual([{ [HOST]: { error: "KeyError('no_such_command')" } }]);
    // A Python node raises SystemExit and never replies to shutdown: neither do we.
    expect(shutdown).toEqual([]);
    expect(target.calls).toContainEqual(['shutdown', 'Got shutdown from remote']);
  }, 30_000);
});
