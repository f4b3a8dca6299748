// kombu's failover list of plain Redis URLs (`redis://a;redis://b`) for the broker and the result
// backend: two redis-servers of the test's own, the first killed under a running `celeriac worker`
// program and client; both go on with the second by themselves, logging `redis.failover`.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger } from '../support/capturing-logger.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';
import { firstTaskThrough } from './first-task-through.js';

describe('chaos: the first URL of a Redis failover list killed', { timeout: 90_000 }, () => {
  let a: RedisServer;
  let b: RedisServer;
  let app: Celeriac;
  let worker: CeleriacWorkerProcess;
  const client = capturingLogger('warn');

  beforeAll(async () => {
    [a, b] = await Promise.all([RedisServer.start(), RedisServer.start()]);
    const config = { broker_url: `${a.url(0)};${b.url(0)}`, result_backend: `${a.url(1)};${b.url(1)}` };
    worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 4 });
    app = new Celeriac('failover', config, { logger: client.logger });
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('the worker and the client go on with the second server', async () => {
    const before = await app.sendTask('tasks.add', [1, 2]);
    expect(await before.get({ timeout: 10_000 })).toBe(3);
    const onA = new Redis(a.url(1));
    expect(await onA.exists(`celery-task-meta-${before.id}`)).toBe(1);
    onA.disconnect();

    await a.kill();
    // Tasks sent from now on go to b and complete there; the first tries may meet the switch.
    const value = await firstTaskThrough(app, worker, 'a task to complete on b');
    expect(value.got).toBe(value.attempt + 100);

    const later = await Promise.all(Array.from({ length: 20 }, (_, i) => app.sendTask('tasks.mul', [i, 2])));
    expect(await Promise.all(later.map((r) => r.get({ timeout: 15_000 })))).toEqual(
      Array.from({ length: 20 }, (_, i) => i * 2),
    );
    const onB = new Redis(b.url(1));
    expect(await onB.exists(...later.map((r) => `celery-task-meta-${r.id}`))).toBe(20);
    onB.disconnect();
    expect(worker.program.running).toBe(true);

    // Both sides said where they went, naming the servers.
    const from = `redis://127.0.0.1:${a.port}/`;
    const to = `redis://127.0.0.1:${b.port}/`;
    const switched = (line: Record<string, unknown>) =>
      line.event === 'redis.failover' && String(line.from).startsWith(from) && String(line.to).startsWith(to);
    expect(client.lines().some(switched)).toBe(true);
    const workerLines = worker.program
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(workerLines.some(switched)).toBe(true);
  });
});
