import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { type ControlWorker, celery, celeryBatch, eventually, startControlWorker } from './control-support.js';

/**
 * Debian's Celery 5.2 CLI against a running `celeriac worker` (the built program): inspect,
 * status, control rate_limit / add_consumer / cancel_consumer / shutdown, revoke and terminate,
 * and a revoke that reaches a worker started later. Python processes: four (one CLI batch each).
 */

const NODE = 'ts-ctl@localhost';
const LATE = 'ts-late@localhost';

let redis: RedisServer;
let db: Redis;
let app: Celeriac;
let worker: ControlWorker;
let late: ControlWorker | undefined;

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  app = new Celeriac('ctl', { broker_url: redis.url(0), result_backend: redis.url(0) });
  worker = await startControlWorker({ brokerUrl: redis.url(0), name: NODE, concurrency: 1 });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await late?.stop();
  await worker?.stop();
  db?.disconnect();
  await redis?.stop();
});

async function status(id: string): Promise<string | undefined> {
  const raw = await db.get(`celery-task-meta-${id}`);
  return raw === null ? undefined : (JSON.parse(raw) as { status: string }).status;
}

describe('celery inspect / status / control against a celeriac worker', () => {
  it('inspect ping|active|registered|stats|reserved|scheduled and status print our node; revoke, terminate and rate_limit steer it', async () => {
    const running = await app.sendTask('ctlapp.abortable', [30]);
    const waiting = await app.sendTask('ctlapp.record', []);
    const later = await app.sendTask('ctlapp.record', [], {}, { countdown: 60 });
    const inspect = app.control.inspect({ destination: [NODE] });
    await eventually(async () => ((await inspect.active())[NODE] as unknown[] | undefined)?.length === 1, 10_000);
    const d = ['-d', NODE];
    const runs = await celeryBatch(redis.url(0), [
      ['inspect', 'ping', ...d],
      ['inspect', 'active', ...d],
      ['inspect', 'registered', ...d],
      ['inspect', 'stats', ...d, '-j'],
      ['inspect', 'reserved', ...d],
      ['inspect', 'scheduled', ...d],
      ['control', 'revoke', later.id, ...d],
      ['control', 'terminate', 'SIGTERM', running.id, ...d],
      ['control', 'rate_limit', 'ctlapp.stamp', '2/s', ...d],
    ]);
    const out = (i: number) => runs[i]!.output;
    const pretty = runs.map((r) => `$ celery ${r.argv.join(' ')} → ${r.exit_code}\n${r.output}`).join('\n');
    for (const run of runs) expect(run.exit_code, pretty).toBe(0);
    expect(out(0)).toBe(`->  ${NODE}: OK\n        pong\n\n1 node online.\n`);
    expect(out(1)).toContain(`'id': '${running.id}', 'name': 'ctlapp.abortable', 'args': [30]`);
    expect(out(1)).toContain(`'hostname': '${NODE}'`);
    expect(out(2)).toBe(
      `->  ${NODE}: OK\n    * ctlapp.abortable\n    * ctlapp.add\n    * ctlapp.exclusive\n    * ctlapp.fail\n    * ctlapp.record\n    * ctlapp.sleep\n    * ctlapp.stamp\n\n1 node online.\n`,
    );
    const stats = JSON.parse(out(3))[NODE];
    expect(stats.pool['max-concurrency']).toBe(1);
    expect(stats.total).toEqual({ 'ctlapp.abortable': 1 });
    expect(out(4)).toContain(`'id': '${waiting.id}'`);
    expect(out(5)).toContain(`'request': {'id': '${later.id}'`);
    expect(out(6)).toBe(`->  ${NODE}: OK\n        tasks ${later.id} flagged as revoked\n`);
    expect(out(7)).toBe(`->  ${NODE}: OK\n        terminate: ${running.id}\n`);
    expect(out(8)).toBe(`->  ${NODE}: OK\n        new rate limit set successfully\n`);

    // revoke of the waiting countdown task: REVOKED, never runs; terminate: REVOKED within 2 s.
    await eventually(async () => (await status(later.id)) === 'REVOKED', 2_000, 'countdown task REVOKED');
    await eventually(async () => (await status(running.id)) === 'REVOKED', 2_000, 'terminated task REVOKED');
    expect(await db.hget('ctl.aborted', running.id)).toBe('TaskRevokedError');
    await eventually(async () => (await status(waiting.id)) === 'SUCCESS', 5_000, 'the reserved task ran');
    expect(await db.hexists('ctl.runs', later.id)).toBe(0);

    // The new rate (2/s) holds: six tasks take about 2.5 s.
    const stamps = await Promise.all(Array.from({ length: 6 }, () => app.sendTask('ctlapp.stamp', [])));
    await eventually(async () => (await db.llen('ctl.stamps')) === 6, 10_000, 'six stamps');
    const times = (await db.lrange('ctl.stamps', 0, -1)).map(Number);
    const spanMs = Math.max(...times) - Math.min(...times);
    console.log(`rate_limit 2/s set by celery control: 6 tasks ran over ${spanMs} ms`);
    expect(spanMs).toBeGreaterThan(2_200);
    expect(spanMs).toBeLessThan(4_000);
    expect(stamps).toHaveLength(6);
  }, 60_000);

  it('`celery status` and the real binary with a timeout list our node', async () => {
    const [st, ping] = await Promise.all([
      celery(redis.url(0), 'status', '-t', '1'),
      celery(redis.url(0), 'inspect', 'ping', '-t', '1'),
    ]);
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toBe(`->  ${NODE}: OK\n\n1 node online.\n`);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toContain(`->  ${NODE}: OK\n        pong`);
  }, 30_000);

  it('add_consumer / cancel_consumer start and stop a queue; a revoke reaches a worker that starts later; shutdown exits warm', async () => {
    const extra = await app.sendTask('ctlapp.add', [2, 3], {}, { queue: 'extra' });
    const doomed = await app.sendTask('ctlapp.record', [], {}, { queue: 'later' });
    const runs = await celeryBatch(redis.url(0), [
      ['control', 'add_consumer', 'extra', '-d', NODE],
      ['control', 'revoke', doomed.id, '-d', NODE],
    ]);
    expect(runs.map((r) => r.output)).toEqual([
      `->  ${NODE}: OK\n        add consumer extra\n`,
      `->  ${NODE}: OK\n        tasks ${doomed.id} flagged as revoked\n`,
    ]);
    expect(await extra.get({ timeout: 5_000 })).toBe(5);
    const cancel = await celeryBatch(redis.url(0), [['control', 'cancel_consumer', 'extra', '-d', NODE]]);
    expect(cancel[0]?.output).toBe(`->  ${NODE}: OK\n        no longer consuming from extra\n`);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const stranded = await app.sendTask('ctlapp.add', [1, 1], {}, { queue: 'extra' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await status(stranded.id)).toBeUndefined();
    expect(await db.llen('extra')).toBe(1);

    // A worker started after the revoke (sent by Python's CLI to the running node) drops the task.
    late = await startControlWorker({ brokerUrl: redis.url(0), name: LATE, queues: ['later'] });
    await eventually(async () => (await status(doomed.id)) === 'REVOKED', 5_000, 'late worker drops the revoked task');
    expect(await db.hexists('ctl.runs', doomed.id)).toBe(0);

    // `celery control shutdown`: no reply (as from a Python node, so the CLI exits 69), and the process exits warm.
    const shutdown = await celery(redis.url(0), 'control', 'shutdown', '-d', LATE, '-t', '0.5');
    expect(shutdown.code).toBe(69);
    const exit = await Promise.race([late.program.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(late.program.output()).toMatch(/"event":"worker.state".*"to":"draining".*"reason":"warm_shutdown"/);
    expect(late.program.output()).toContain('"event":"control.shutdown_requested"');
  }, 60_000);

  it('pool_grow / pool_shrink resize the pool at once: three tasks run together, then one at a time again', async () => {
    const d = ['-d', NODE];
    const inspect = app.control.inspect({ destination: [NODE] });
    const running = async () => ((await inspect.active())[NODE] as unknown[] | undefined)?.length ?? 0;
    const grow = await celeryBatch(redis.url(0), [
      ['control', 'pool_grow', '2', ...d],
      ['inspect', 'stats', ...d, '-j'],
    ]);
    expect(grow[0]?.output).toBe(`->  ${NODE}: OK\n        pool will grow\n`);
    const grown = JSON.parse(grow[1]!.output)[NODE];
    expect(grown.pool['max-concurrency']).toBe(3);
    expect(grown.prefetch_count).toBe(12);
    const three = await Promise.all(Array.from({ length: 3 }, () => app.sendTask('ctlapp.abortable', [30])));
    await eventually(async () => (await running()) === 3, 10_000, 'three tasks running at once');

    const shrink = await celeryBatch(redis.url(0), [
      ['control', 'pool_shrink', '2', ...d],
      ['control', 'pool_shrink', '1', ...d],
      ['inspect', 'stats', ...d, '-j'],
    ]);
    expect(shrink[0]?.output).toBe(`->  ${NODE}: OK\n        pool will shrink\n`);
    // Below one slot: Celery's error reply, naming why.
    expect(shrink[1]?.output).toMatch(new RegExp(`^->  ${NODE}: ERROR\\n.*ValueError.*Can't shrink pool by 1`, 's'));
    expect(JSON.parse(shrink[2]!.output)[NODE].pool['max-concurrency']).toBe(1);
    await app.control.terminate(three.map((r) => r.id));
    await eventually(async () => (await running()) === 0, 5_000, 'the three terminated');

    // One at a time again: of two new tasks, one runs and the other waits (reserved).
    const two = await Promise.all(Array.from({ length: 2 }, () => app.sendTask('ctlapp.abortable', [30])));
    await eventually(async () => (await running()) === 1, 5_000, 'one task running');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await running()).toBe(1);
    expect(((await inspect.reserved())[NODE] as unknown[]).length).toBe(1);
    await app.control.terminate(two.map((r) => r.id));
  }, 60_000);
});
