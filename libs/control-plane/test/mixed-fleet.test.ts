import {
  ControlClient,
  ControlServer,
  EventDispatcher,
  LamportClock,
  mingle,
  RevokedSet,
  WorkerHeart,
} from '@celeriac/control-plane';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProgram } from '../../../test/support/celery-child-process.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger, FakeTarget, inspector, PY_DIR, PYTHON, pyEnv, runPython } from './helpers.js';

/**
 * One Python Celery worker (`-P solo`, mingle and gossip on, as by default) and one Celeriac node
 * on the same broker: our ControlClient steers both, and revokes cross over through mingle.
 */

const OURS = 'celeriac-fleet@test';
const PY = 'py-fleet@test';
/** Both nodes answer: the collection ends at the second reply. */
const BOTH = { limit: 2 };

let redis: RedisServer;
let commands: Redis;
let python: ChildProgram;
let server: ControlServer;
let revoked: RevokedSet;
let events: EventDispatcher;
let heart: WorkerHeart;
let client: ControlClient;
const log = capturingLogger();

beforeAll(async () => {
  redis = await RedisServer.start();
  commands = inspector(redis.url());
  const clock = new LamportClock();
  revoked = new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 });
  await revoked.start();
  events = new EventDispatcher({ url: redis.url(), hostname: OURS, logger: log.logger, clock });
  heart = new WorkerHeart({ events, logger: log.logger, counters: { active: () => 0, processed: () => 0 } });
  const target = new FakeTarget(OURS);
  // The tasks of ctlapp.py, as the Python worker has them.
  target.tasks = [{ name: 'ctlapp.add' }, { name: 'ctlapp.sleep' }];
  server = new ControlServer({
    url: redis.url(),
    target,
    revoked,
    logger: log.logger,
    clock,
    events,
    heart,
  });
  await server.start();
  await heart.start();
  client = new ControlClient({ url: redis.url(), logger: log.logger });
  // Revoked while no Python worker runs: Celery itself would lose this broadcast.
  await client.revoke('revoked-before-python-started');
  python = new ChildProgram({
    command: PYTHON,
    args: ['-m', 'celery', '-A', 'ctlapp', 'worker', '-P', 'solo', '-n', PY, '-l', 'info', '-Q', 'celery'],
    cwd: PY_DIR,
    env: pyEnv(redis.url()),
    label: `celery worker ${PY}`,
  });
  await python.waitForOutput(/ ready\.\s*$/m, 30_000);
}, 60_000);

afterAll(async () => {
  await python?.stop(10_000);
  await client?.close();
  await heart?.stop();
  await server?.close();
  await events?.close();
  revoked?.close();
  commands?.disconnect();
  await redis?.stop();
});

describe('a mixed fleet: one Python worker, one Celeriac node', () => {
  it('ping lists both, and the Python worker learned our revoked id through mingle', async () => {
    // Right after "ready." a loaded machine may need more than Celery's 1 s for the first answer.
    expect(await client.ping({ ...BOTH, timeoutMs: 5_000 })).toEqual({ [OURS]: { ok: 'pong' }, [PY]: { ok: 'pong' } });
    expect(python.output()).toMatch(/mingle: sync with 1 nodes/);
    const pyRevoked = await client.inspect('revoked', {}, { destination: [PY] });
    expect(pyRevoked[PY]).toContain('revoked-before-python-started');
  });

  it('`celery status` lists both nodes', async () => {
    const run = await runPython(['-m', 'celery', '-A', 'ctlapp', 'status', '-t', '0.5'], redis.url());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`->  ${OURS}: OK`);
    expect(run.stdout).toContain(`->  ${PY}: OK`);
    expect(run.stdout).toContain('2 nodes online.');
  });

  it('both nodes give the same replies to the same commands (unknown command, stats keys, queues)', async () => {
    const unknown = await client.inspect('no_such_command', {}, BOTH);
    expect(unknown).toEqual({
      [OURS]: { error: "KeyError('no_such_command')" },
      [PY]: { error: "KeyError('no_such_command')" },
    });
    for (const [method, args] of [
      ['rate_limit', {}],
      ['revoke', {}],
      ['rate_limit', { task_name: 'ctlapp.add', rate_limit: 'abc' }],
      ['time_limit', { task_name: 'ctlapp.nope' }],
      ['registered', { taskinfoitems: ['rate_limit'] }],
    ] as const) {
      const replies = await client.inspect(method, args, BOTH);
      expect(replies[OURS], `${method} ${JSON.stringify(args)}`).toEqual(replies[PY]);
    }
    const stats = await client.inspect('stats', {}, BOTH);
    expect(Object.keys(stats[OURS] as object).sort()).toEqual(Object.keys(stats[PY] as object).sort());
    const queues = await client.inspect('active_queues', {}, BOTH);
    expect(queues[OURS]).toEqual(queues[PY]);
    const clock = await client.inspect('clock', {}, BOTH);
    expect(Object.keys(clock[OURS] as object)).toEqual(Object.keys(clock[PY] as object));
  });

  it('our ControlClient steers the Python worker: rate_limit, revoke with a reply', async () => {
    expect(await client.rateLimit('ctlapp.add', '10/m', { destination: [PY] })).toEqual([
      { [PY]: { ok: 'new rate limit set successfully' } },
    ]);
    expect(await client.rateLimit('ctlapp.add', '1/x', { destination: [PY] })).toEqual([
      { [PY]: { error: "KeyError('x')" } },
    ]);
    expect(await client.revoke('r-both', { reply: true, ...BOTH })).toEqual(
      expect.arrayContaining([
        { [PY]: { ok: 'tasks r-both flagged as revoked' } },
        { [OURS]: { ok: 'tasks r-both flagged as revoked' } },
      ]),
    );
  });

  it('a Celeriac node starting later learns revokes only the Python worker saw, through mingle', async () => {
    const pyOnly = new ControlClient({ url: redis.url(), logger: log.logger, shareRevokes: false });
    try {
      await pyOnly.revoke('seen-by-python-only', { destination: [PY], reply: true });
    } finally {
      await pyOnly.close();
    }
    const lateCommands = inspector(redis.url());
    const late = new RevokedSet({ redis: lateCommands, logger: log.logger, syncIntervalMs: 0 });
    try {
      await late.start();
      // From the shared set: what Celeriac saw.
      expect(late.has('revoked-before-python-started')).toBe(true);
      expect(late.has('seen-by-python-only')).toBe(false);
      const result = await mingle({
        client,
        revoked: late,
        hostname: 'celeriac-late@test',
        clock: new LamportClock(),
        logger: log.logger,
      });
      expect(result.nodes).toBe(2);
      expect(late.has('seen-by-python-only')).toBe(true);
    } finally {
      late.close();
      lateCommands.disconnect();
    }
  });

  it('the Python worker gossips with our heartbeats without an error', async () => {
    // Its gossip consumer reads our worker.* events; a shape it could not handle would be logged.
    const from = python.output().length;
    await heart.beat();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await client.ping({ destination: [PY] })).toEqual({ [PY]: { ok: 'pong' } });
    expect(python.output().slice(from)).not.toMatch(/Traceback|ERROR|WARNING/);
  });
});
