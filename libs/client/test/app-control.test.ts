import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PY_DIR, PYTHON, pyEnv } from '../../../libs/control-plane/test/helpers.js';
import { ChildProgram } from '../../../test/support/celery-child-process.js';
import { EventTap } from '../../../test/support/celery-events.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';

/**
 * `app.control` and `AsyncResult.revoke()` of the client against a real Python Celery worker, and
 * `task-sent` events (`task_send_sent_event`) read by Python's `State()`. Python processes: two.
 */

const PY = 'py-client@test';
let redis: RedisServer;
let db: Redis;
let python: ChildProgram;
let app: Celeriac;
let tap: EventTap;

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  tap = await EventTap.start(redis.url(0));
  python = new ChildProgram({
    command: PYTHON,
    args: ['-m', 'celery', '-A', 'ctlapp', 'worker', '-P', 'solo', '-n', PY, '-l', 'info', '--without-gossip'],
    cwd: PY_DIR,
    env: pyEnv(redis.url(0)),
    label: `celery worker ${PY}`,
  });
  await python.waitForOutput(/ ready\.\s*$/m, 30_000);
  app = new Celeriac('ctlapp', { broker_url: redis.url(0), result_backend: redis.url(0) });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await python?.stop(10_000);
  await tap?.stop();
  db?.disconnect();
  await redis?.stop();
});

describe('app.control against a Python worker', () => {
  it('ping, inspect, rateLimit and broadcast get the Python node replies', async () => {
    const one = { destination: [PY] };
    expect(await app.control.ping(one)).toEqual([{ [PY]: { ok: 'pong' } }]);
    const inspect = app.control.inspect(one);
    expect(await inspect.ping()).toEqual({ [PY]: { ok: 'pong' } });
    expect((await inspect.registered())[PY]).toEqual(['ctlapp.add', 'ctlapp.sleep']);
    expect(await inspect.active()).toEqual({ [PY]: [] });
    expect((await inspect.stats())[PY]).toHaveProperty('pool');
    expect(await app.control.rateLimit('ctlapp.add', '10/m', one)).toEqual([
      { [PY]: { ok: 'new rate limit set successfully' } },
    ]);
    expect(await app.control.broadcast('no_such', {}, one)).toEqual([{ [PY]: { error: "KeyError('no_such')" } }]);
  });

  it('AsyncResult.revoke() of a countdown task: the Python worker never runs it and stores REVOKED', async () => {
    const result = await app.sendTask('ctlapp.add', [1, 2], {}, { countdown: 1.5 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await result.revoke();
    expect(await db.zscore('celeriac.revoked', result.id)).not.toBeNull();
    await expect(result.get({ timeout: 8_000 })).rejects.toMatchObject({ code: 'CLIENT_TASK_REVOKED' });
    const revoked = (await app.control.inspect({ destination: [PY] }).revoked())[PY];
    expect(revoked).toContain(result.id);
  });
});

describe('task_send_sent_event', () => {
  it('sends task-sent as a Python client does, which State() reads', async () => {
    const sender = new Celeriac('sender', {
      broker_url: redis.url(0),
      result_backend: redis.url(0),
      task_send_sent_event: true,
    });
    const state = new ChildProgram({
      command: PYTHON,
      args: ['events_state.py', '4'],
      cwd: PY_DIR,
      env: pyEnv(redis.url(0)),
      label: 'events_state.py',
    });
    try {
      await state.waitForOutput(/capturing/, 20_000);
      // The receiver subscribes right after it says so: events sent before that are not seen.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const r = await sender.sendTask('ctlapp.add', [2, 3], {}, { queue: 'nobody' });
      const plain = await app.sendTask('ctlapp.add', [4, 5], {}, { queue: 'nobody' });
      await state.exited;
      const captured = JSON.parse(state.output().trim().split('\n').at(-1) ?? '{}') as {
        tasks: Record<string, { state: string; name: string; args: string }>;
      };
      expect(captured.tasks[r.id]).toMatchObject({ state: 'PENDING', name: 'ctlapp.add', args: '(2, 3)' });
      expect(tap.of('task-sent', r.id)[0]).toMatchObject({
        uuid: r.id,
        root_id: r.id,
        parent_id: null,
        name: 'ctlapp.add',
        args: '(2, 3)',
        kwargs: '{}',
        retries: 0,
        eta: null,
        expires: null,
        queue: 'nobody',
        exchange: '',
        routing_key: 'nobody',
      });
      expect(tap.of('task-sent', plain.id)).toEqual([]);
    } finally {
      await state.stop(5_000);
      await sender.close();
    }
  }, 30_000);
});
