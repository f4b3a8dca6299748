import { RedisBroker } from '@celeriac/broker';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleriacWorkerProcess } from '../../../test/support/celery-ts-worker.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { waitFor } from './support.js';

// A fleet concurrency limit of 2 across two worker processes; the one holding both slots is
// killed (SIGKILL): the slots come back within their lease, and the other worker runs the next task
// (the agent's owner restore, done here by hand, puts back what the dead worker held).

let redis: RedisServer;
let db: Redis;
const workers: CeleriacWorkerProcess[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill().catch(() => undefined)));
  db?.disconnect();
  await redis?.stop();
});

const LEASE_SEC = 2;

describe('fleet concurrency limit', () => {
  it('a worker killed holding slots gives them back within their lease', async () => {
    const config = {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_annotations: { 'tasks.record_sleep': { fleet_concurrency: 2, fleet_lease: LEASE_SEC } },
    };
    const app = new Celeriac('producer', config);
    try {
      const a = await CeleriacWorkerProcess.start({ config, concurrency: 4, name: 'slots-a@localhost' });
      workers.push(a);
      const long = await Promise.all([1, 2].map(() => app.sendTask('tasks.record_sleep', [60])));
      await waitFor(async () => ((await db.hlen('interop.runs')) === 2 ? true : undefined), 20_000);
      expect(await db.zcard('celeriac.fleet.slots.task:tasks.record_sleep')).toBe(2);

      const b = await CeleriacWorkerProcess.start({ config, concurrency: 4, name: 'slots-b@localhost' });
      workers.push(b);
      const next = await app.sendTask('tasks.record_sleep', [0.1]);
      // Both slots are taken: the third task waits, wherever it was delivered.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await db.hget('interop.runs', next.id)).toBeNull();
      expect(await db.zcard('celeriac.fleet.slots.task:tasks.record_sleep')).toBe(2);

      const ownerA = a.ownerId;
      await a.kill();
      const killedAt = Date.now();
      // What the agent does when a worker dies: what it held (perhaps the third task) goes back at once.
      const broker = new RedisBroker({ url: redis.url(0), logger: createLogger({ level: 'silent' }) });
      await broker.start();
      await broker.restoreOwner(ownerA);
      await broker.close();
      await waitFor(async () => ((await db.hget('interop.runs', next.id)) !== null ? true : undefined), 15_000);
      const waited = Date.now() - killedAt;
      process.stdout.write(`slot back and next task started ${waited} ms after the kill (lease ${LEASE_SEC} s)\n`);
      // Within the lease (2 s), plus the waiting worker's poll and a margin for a loaded machine.
      expect(waited).toBeLessThanOrEqual(LEASE_SEC * 1000 + 1_500);
      expect(await next.get({ timeout: 10_000 })).toBe('celeriac');
      expect(long.length).toBe(2);
      await b.stop();
    } finally {
      await app.close();
    }
  }, 90_000);
});
