import {
  ControlServer,
  EventDispatcher,
  LamportClock,
  RevokedSet,
  type TaskEventFields,
  WorkerHeart,
} from '@celeriac/control-plane';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildProgram } from '../../../test/support/celery-child-process.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger, FakeTarget, inspector, PY_DIR, PYTHON, pyEnv, until } from './helpers.js';

/**
 * `celery events --dump` and an `app.events.Receiver` feeding `State()` (what event-fed monitors
 * use) watch a Celeriac node: online, heartbeats, every kind of task event, offline.
 */

const HOST = 'celeriac-ev@test';

let redis: RedisServer;
let r: Redis;
const log = capturingLogger();

beforeAll(async () => {
  redis = await RedisServer.start();
  r = inspector(redis.url());
});

afterAll(async () => {
  r?.disconnect();
  await redis?.stop();
});

/** Connections holding at least one PSUBSCRIBE pattern (NUMPAT counts unique patterns only). */
async function patternSubscribers(): Promise<number> {
  const list = (await r.call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((line) => /\bpsub=[1-9]/.test(line)).length;
}

const HOT_ARGS = `('say "é"', 'C:\\\\tmp')`;
const HOT_RESULT = `'ö"\\n'`;

function received(uuid: string, name: string, args: string): TaskEventFields['task-received'] {
  return { uuid, name, args, kwargs: '{}', root_id: uuid, parent_id: null, retries: 0, eta: null, expires: null };
}

describe('Celery event consumers see a Celeriac worker', () => {
  it('events --dump and Receiver+State() see it online, its heartbeats and its task events', async () => {
    const env = pyEnv(redis.url());
    const dump = new ChildProgram({
      command: PYTHON,
      args: ['-m', 'celery', '-A', 'ctlapp', 'events', '--dump'],
      cwd: PY_DIR,
      env,
      label: 'celery events --dump',
    });
    const state = new ChildProgram({
      command: PYTHON,
      args: ['events_state.py', '6'],
      cwd: PY_DIR,
      env,
      label: 'events_state.py',
    });
    const clock = new LamportClock();
    const events = new EventDispatcher({
      url: redis.url(),
      hostname: HOST,
      logger: log.logger,
      clock,
      taskEvents: true,
    });
    let processed = 0;
    const heart = new WorkerHeart({
      events,
      logger: log.logger,
      counters: { active: () => 0, processed: () => processed },
    });
    const commands = inspector(redis.url());
    const revoked = new RevokedSet({ redis: commands, logger: log.logger, syncIntervalMs: 0 });
    // The pidbox answers the `heartbeat` cast every Receiver sends when it starts (its wakeup).
    const server = new ControlServer({
      url: redis.url(),
      target: new FakeTarget(HOST),
      revoked,
      logger: log.logger,
      clock,
      events,
      heart,
    });
    try {
      await server.start();
      // Both receivers PSUBSCRIBE /0.celeryev/*, and our pidbox subscriber holds a pattern too.
      await until(async () => (await patternSubscribers()) >= 3, 20_000, 50);
      await heart.start();
      events.sendTask('task-received', received('t-ok', 'ctlapp.add', '(2, 3)'));
      events.sendTask('task-started', { uuid: 't-ok' });
      events.sendTask('task-succeeded', { uuid: 't-ok', result: '5', runtime: 0.0012 });
      events.sendTask('task-received', received('t-fail', 'ctlapp.add', '(1,)'));
      events.sendTask('task-started', { uuid: 't-fail' });
      events.sendTask('task-failed', { uuid: 't-fail', exception: "TypeError('boom')", traceback: 'Traceback...' });
      events.sendTask('task-received', received('t-retry', 'ctlapp.add', '()'));
      events.sendTask('task-retried', { uuid: 't-retry', exception: "Retry('again')", traceback: '' });
      events.sendTask('task-received', received('t-rev', 'ctlapp.sleep', '(5,)'));
      events.sendTask('task-revoked', { uuid: 't-rev', terminated: false, signum: null, expired: false });
      events.sendTask('task-received', received('t-rej', 'ctlapp.add', '()'));
      events.sendTask('task-rejected', { uuid: 't-rej', requeue: false });
      // The worker's own path (the list is the envelope's body text, escaped twice), with quotes,
      // a backslash and non-ASCII in its reprs.
      events.taskReceived('t-hot', 'ctlapp.add', HOT_ARGS, "{'k': 'ü'}", 't-hot', null, 0, null, null);
      events.taskStarted('t-hot');
      events.taskSucceeded('t-hot', HOT_RESULT, 0.002);
      processed = 2;
      await events.flush();
      await state.waitForOutput(/^\{"workers"/m, 20_000);
      await heart.stop();
      await dump.waitForOutput(new RegExp(`${HOST} \\[[^\\]]+\\] shutdown`), 10_000);

      const summary = JSON.parse(
        state
          .output()
          .split('\n')
          .find((l) => l.startsWith('{"workers"'))!,
      );
      const worker = summary.workers[HOST];
      expect(worker).toMatchObject({ alive: true, sw_ident: 'celeriac', freq: 2, pid: process.pid });
      expect(worker.heartbeats).toBeGreaterThanOrEqual(2);
      expect(summary.types['worker-online']).toBe(1);
      expect(summary.tasks['t-ok']).toMatchObject({
        state: 'SUCCESS',
        name: 'ctlapp.add',
        hostname: HOST,
        result: '5',
      });
      expect(summary.tasks['t-fail']).toMatchObject({ state: 'FAILURE', exception: "TypeError('boom')" });
      expect(summary.tasks['t-retry']).toMatchObject({ state: 'RETRY' });
      expect(summary.tasks['t-hot']).toMatchObject({
        state: 'SUCCESS',
        name: 'ctlapp.add',
        hostname: HOST,
        args: HOT_ARGS,
        result: HOT_RESULT,
        runtime: 0.002,
      });
      expect(summary.tasks['t-rev']).toMatchObject({ state: 'REVOKED' });
      // State() ranks REJECTED below RECEIVED (celery.states.PRECEDENCE): the event is merged, the state stays.
      expect(summary.types['task-rejected']).toBe(1);
      expect(summary.tasks['t-rej']).toMatchObject({ state: 'RECEIVED' });

      const out = dump.output();
      expect(out).toMatch(new RegExp(`${HOST} \\[[^\\]]+\\] started: active=0, `));
      expect(out).toMatch(new RegExp(`${HOST} \\[[^\\]]+\\] heartbeat: active=0, clock=\\d+, freq=2\\.0, `));
      expect(out).toContain('task received: ctlapp.add(t-ok) args=(2, 3) kwargs={}');
      expect(out).toMatch(
        /task succeeded: ctlapp\.add\(t-ok\) args=\(2, 3\) kwargs=\{\} clock=\d+, .*result=5, runtime=0\.0012/,
      );
      expect(out).toMatch(
        /task failed: ctlapp\.add\(t-fail\) args=\(1,\) kwargs=\{\} clock=\d+, exception=TypeError\('boom'\)/,
      );
      expect(out).toContain('task revoked: ctlapp.sleep(t-rev)');
    } finally {
      await Promise.all([dump.stop(5_000), state.stop(5_000)]);
      await heart.stop();
      await server.close();
      await events.close();
      revoked.close();
      commands.disconnect();
    }
  }, 60_000);
});
