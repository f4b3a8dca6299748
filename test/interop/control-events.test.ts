import { Celeriac } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProgram } from '../support/celery-child-process.js';
import { RedisServer } from '../support/redis-server.js';
import { type ControlWorker, celery, eventually, pythonProgram, startControlWorker } from './control-support.js';

/**
 * Celery's event consumers against `celeriac worker -E`: `celery events --dump`, and
 * `app.events.Receiver` + `State()` (what event-fed monitors are built on), alone and in a mixed
 * fleet with a Python worker. Python processes: five (dump, two captures, one worker, one ping).
 */

const NODE = 'ts-ev@localhost';
const MIXED = 'ts-mixed@localhost';
const PY = 'py-mixed@localhost';

interface Captured {
  workers: Record<string, { alive: boolean; heartbeats: number; sw_ident: string; processed: number }>;
  tasks: Record<string, { state: string; name: string; hostname: string | null; result: string | null }>;
  types: Record<string, number>;
}

let redis: RedisServer;
let app: Celeriac;
const programs: ChildProgram[] = [];
const workers: ControlWorker[] = [];

/** events_state.py: Receiver + State() for `seconds`, then a JSON summary. */
function capture(seconds: number): { program: ChildProgram; result: Promise<Captured> } {
  const program = pythonProgram(redis.url(0), ['events_state.py', String(seconds)], 'events_state.py');
  programs.push(program);
  const result = program.exited.then(() => {
    const line = program.output().trim().split('\n').at(-1) ?? '';
    return JSON.parse(line) as Captured;
  });
  return { program, result };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  app = new Celeriac('ev', { broker_url: redis.url(0), result_backend: redis.url(0) });
});

afterAll(async () => {
  await app?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(programs.map((p) => p.stop(5_000)));
  await redis?.stop();
});

describe('celery events and State() see a celeriac worker', () => {
  it('--dump and Receiver+State show it online, its heartbeats and every task received/started/succeeded/failed', async () => {
    const dump = pythonProgram(redis.url(0), ['-m', 'celery', '-A', 'ctlapp', 'events', '--dump'], 'celery events');
    programs.push(dump);
    await dump.waitForOutput(/evdump: starting capture/, 20_000);
    const state = capture(9);
    await state.program.waitForOutput(/capturing/, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const worker = await startControlWorker({ brokerUrl: redis.url(0), name: NODE, args: ['-E'] });
    const ok = await app.sendTask('ctlapp.add', [2, 3]);
    const bad = await app.sendTask('ctlapp.fail', []);
    expect(await ok.get({ timeout: 5_000 })).toBe(5);
    await expect(bad.get({ timeout: 5_000 })).rejects.toThrow('bad value');
    // Two heartbeats (every 2 s), then a warm stop: worker-offline.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    const captured = await state.result;

    await eventually(() => /shutdown/.test(dump.output()), 5_000, 'worker-offline in the dump');
    const text = dump.output();
    expect(text).toMatch(new RegExp(`${NODE} \\[[^\\]]+\\] started: .*sw_ident=celeriac`));
    expect(text).toMatch(new RegExp(`${NODE} \\[[^\\]]+\\] heartbeat: .*freq=2.0`));
    expect(text).toContain(`task received: ctlapp.add(${ok.id}) args=(2, 3) kwargs={}`);
    expect(text).toMatch(new RegExp(`task started: ctlapp.add\\(${ok.id}\\)`));
    expect(text).toMatch(new RegExp(`task succeeded: ctlapp.add\\(${ok.id}\\) .*result=5`));
    expect(text).toMatch(new RegExp(`task failed: ctlapp.fail\\(${bad.id}\\) .*exception=ValueError\\('bad value'\\)`));
    expect(text).toMatch(new RegExp(`${NODE} \\[[^\\]]+\\] shutdown:`));

    const w = captured.workers[NODE];
    expect(w?.sw_ident).toBe('celeriac');
    expect(w?.alive).toBe(false); // it said worker-offline (which also empties State's heartbeat list)
    expect(captured.types['worker-heartbeat']).toBeGreaterThanOrEqual(2);
    expect(captured.tasks[ok.id]).toMatchObject({ state: 'SUCCESS', name: 'ctlapp.add', hostname: NODE, result: '5' });
    expect(captured.tasks[bad.id]).toMatchObject({ state: 'FAILURE', name: 'ctlapp.fail', hostname: NODE });
    expect(captured.types).toMatchObject({ 'worker-online': 1, 'worker-offline': 1, 'task-received': 2 });
  }, 60_000);
});

describe('a mixed fleet: one Python worker, one celeriac worker', () => {
  it('inspect ping lists both, and State() counts the tasks of both', async () => {
    const py = pythonProgram(
      redis.url(0),
      ['-m', 'celery', '-A', 'ctlapp', 'worker', '-P', 'solo', '-E', '-n', PY, '-Q', 'fleet', '-l', 'info'],
      `celery worker ${PY}`,
    );
    programs.push(py);
    const [ours] = await Promise.all([
      startControlWorker({ brokerUrl: redis.url(0), name: MIXED, queues: ['fleet'], args: ['-E'] }),
      py.waitForOutput(/ ready\.\s*$/m, 30_000),
    ]);
    workers.push(ours);
    const ping = await celery(redis.url(0), 'inspect', 'ping', '-t', '1');
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toContain(`->  ${MIXED}: OK`);
    expect(ping.stdout).toContain(`->  ${PY}: OK`);
    expect(ping.stdout).toContain('2 nodes online.');

    const state = capture(7);
    await state.program.waitForOutput(/capturing/, 20_000);
    // The receiver subscribes right after it says so: events sent before that are not seen.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const sent = [];
    for (let i = 0; i < 40; i++) sent.push(await app.sendTask('ctlapp.add', [i, i], {}, { queue: 'fleet' }));
    await Promise.all(sent.map((r) => r.get({ timeout: 10_000 })));
    const captured = await state.result;
    const byHost: Record<string, number> = {};
    for (const r of sent) {
      const task = captured.tasks[r.id];
      expect(task?.state, r.id).toBe('SUCCESS');
      byHost[String(task?.hostname)] = (byHost[String(task?.hostname)] ?? 0) + 1;
    }
    console.log(`mixed fleet: State() saw ${JSON.stringify(byHost)} of 40 tasks`);
    expect(Object.keys(byHost).sort()).toEqual([PY, MIXED].sort());
    expect((byHost[PY] ?? 0) + (byHost[MIXED] ?? 0)).toBe(40);
    expect(captured.workers[PY]?.alive).toBe(true);
    expect(captured.workers[MIXED]?.alive).toBe(true);
    expect(py.output()).not.toMatch(/Traceback/);
  }, 90_000);
});
