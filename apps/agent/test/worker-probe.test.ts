import type { ProgramStatus } from '@celeriac/config-schema';
import { ControlServer, RevokedSet } from '@celeriac/control-plane';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget, PY_DIR, PYTHON, pyEnv } from '../../../libs/control-plane/test/helpers.js';
import { capturingLogger } from '../../../test/support/capturing-logger.js';
import { ChildProgram } from '../../../test/support/celery-child-process.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { type ProbeTarget, WorkerProbe } from '../src/worker-probe.js';

/**
 * The agent's pidbox probe: a Celeriac node (a ControlServer) and a real Python Celery worker
 * answer `inspect ping`; one that stops answering (pidbox closed; the Python process stopped with
 * SIGSTOP) is reported `responding: false` after two probes and logged, and recovers.
 */

const OURS = 'n1.workers.1@host';
const PY = 'n1.py.1.g1@host';

let redis: RedisServer;
let commands: Redis;
let python: ChildProgram;
let server: ControlServer;
const log = capturingLogger();

function status(kind: ProgramStatus['kind']): ProgramStatus {
  return { kind, state: 'running', pids: [1], restarts: 0, config_hash: 'h', last_exit: null };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  commands = new Redis(redis.url(0));
  const target = new FakeTarget(OURS);
  target.reservedList = [];
  server = new ControlServer({
    url: redis.url(0),
    target,
    revoked: new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 }),
    logger: log.logger,
  });
  await server.start();
  python = new ChildProgram({
    command: PYTHON,
    args: [
      '-m',
      'celery',
      '-A',
      'ctlapp',
      'worker',
      '-P',
      'solo',
      '-n',
      PY,
      '--without-mingle',
      '--without-gossip',
      '-l',
      'info',
    ],
    cwd: PY_DIR,
    env: pyEnv(redis.url(0)),
    label: `celery worker ${PY}`,
  });
  await python.waitForOutput(/ ready\.\s*$/m, 30_000);
}, 60_000);

afterAll(async () => {
  python?.signal('SIGCONT');
  await python?.stop(10_000);
  await server?.close();
  commands?.disconnect();
  await redis?.stop();
});

describe('WorkerProbe', () => {
  it('sees both workers answer, reports the one that stops answering, and its recovery', async () => {
    const targets: ProbeTarget[] = [
      { program: 'workers', name: OURS, brokerUrl: redis.url(0) },
      { program: 'py', name: PY, brokerUrl: redis.url(0) },
    ];
    let changes = 0;
    const probe = new WorkerProbe({
      logger: log.logger,
      targets: () => targets,
      onChange: () => changes++,
      timeoutMs: 500,
    });
    try {
      await probe.tick();
      let statuses = probe.annotate({ workers: status('celeriac-worker'), py: status('celery-worker') });
      expect(statuses.workers?.workers?.[OURS]).toMatchObject({ responding: true, active: 0, reserved: 0 });
      expect(statuses.py?.workers?.[PY]).toMatchObject({ responding: true, active: 0, reserved: 0 });
      expect(statuses.py?.responding).toBe(true);

      // The Python worker hangs (SIGSTOP) and our node's pidbox goes away.
      python.signal('SIGSTOP');
      await server.close();
      await probe.tick();
      statuses = probe.annotate({ workers: status('celeriac-worker'), py: status('celery-worker') });
      expect(statuses.py?.responding).toBe(true); // one missed probe is not enough
      await probe.tick();
      statuses = probe.annotate({ workers: status('celeriac-worker'), py: status('celery-worker') });
      expect(statuses.py?.workers?.[PY]?.responding).toBe(false);
      expect(statuses.py?.responding).toBe(false);
      expect(statuses.workers?.responding).toBe(false);
      expect(changes).toBe(2);
      const warned = log.lines().filter((l) => l.event === 'agent.worker_unresponsive');
      expect(warned.map((l) => l.worker).sort()).toEqual([PY, OURS].sort());

      python.signal('SIGCONT');
      await probe.tick();
      statuses = probe.annotate({ workers: status('celeriac-worker'), py: status('celery-worker') });
      expect(statuses.py?.responding).toBe(true);
      expect(log.lines().some((l) => l.event === 'agent.worker_responding' && l.worker === PY)).toBe(true);
      // A worker that is no longer a target is forgotten.
      targets.splice(0, 1);
      await probe.tick();
      statuses = probe.annotate({ workers: status('celeriac-worker'), py: status('celery-worker') });
      expect(statuses.workers?.workers).toBeUndefined();
    } finally {
      await probe.close();
    }
  }, 30_000);

  it('probes workers under global_keyprefix on prefixed pidbox channels, and follows a change of prefix', async () => {
    const name = 'n1.prefixed.1@host';
    const prefixed = new ControlServer({
      url: redis.url(0),
      keyPrefix: 'tenant1:',
      target: Object.assign(new FakeTarget(name), { reservedList: [] }),
      revoked: new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 }),
      logger: log.logger,
    });
    await prefixed.start();
    let keyPrefix = '';
    const probe = new WorkerProbe({
      logger: log.logger,
      targets: () => [{ program: 'pre', name, brokerUrl: redis.url(0) }],
      onChange: () => {},
      timeoutMs: 500,
      missesAllowed: 0,
      keyPrefix: () => keyPrefix,
    });
    try {
      await probe.tick();
      expect(probe.annotate({ pre: status('celeriac-worker') }).pre?.workers?.[name]?.responding).toBe(false);
      keyPrefix = 'tenant1:';
      await probe.tick();
      expect(probe.annotate({ pre: status('celeriac-worker') }).pre?.workers?.[name]).toMatchObject({
        responding: true,
        active: 0,
        reserved: 0,
      });
    } finally {
      await probe.close();
      await prefixed.close();
    }
  }, 30_000);
});
