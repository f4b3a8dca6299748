// An idle `celeriac worker` waits in its blocking pop; it is SIGKILLed and a task is LPUSHed 0, 1, 2
// or 5 ms later, while Redis may still think the dead socket is open. Then, as the agent does, the
// dead owner is restored. Every task must be back on its queue (and run once by a survivor): with a
// plain BRPOP Redis hands the entry to the dead process and it is gone.
// CHAOS_KILL_TRIALS sets the trials per delay (default 10; issue 8 asks for 50).
import { RedisBroker } from '@celeriac/broker';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RedisServer } from '../support/redis-server.js';

const TRIALS = Number(process.env.CHAOS_KILL_TRIALS ?? 10);
const DELAYS_MS = [0, 1, 2, 5];
const QUEUE = 'lossq';
/** Restored tasks are moved here, so that the next trial's worker starts idle. */
const DONE_QUEUE = 'lossq-checked';

/** Busy-waits `ms` milliseconds (a timer would add a millisecond or more). */
function spin(ms: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  while (process.hrtime.bigint() < end) {
    // spin
  }
}

describe('chaos: SIGKILL of an idle worker, then a push', { timeout: 600_000 }, () => {
  let redis: RedisServer;
  let brokerDb: Redis;
  let pusher: Redis;
  let restorer: RedisBroker;
  let config: Record<string, unknown>;
  const workers: CeleriacWorkerProcess[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    brokerDb = new Redis(redis.url(0));
    pusher = new Redis(redis.url(0));
    await pusher.ping();
    restorer = new RedisBroker({ url: redis.url(0), logger: createLogger({ level: 'silent', pretty: false }) });
    await restorer.start();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await restorer?.close();
    brokerDb?.disconnect();
    pusher?.disconnect();
    await redis?.stop();
  });

  it('loses no task pushed right after the kill', async () => {
    const lost: Record<number, number> = {};
    const ids: string[] = [];
    for (const delayMs of DELAYS_MS) {
      lost[delayMs] = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const worker = await CeleriacWorkerProcess.start({ config, queues: [QUEUE], concurrency: 1 });
        workers.push(worker);
        await pollUntil(
          async () => {
            const clients = String(await brokerDb.client('LIST')).split('\n');
            return clients.some((c) => /\bflags=\w*b/.test(c) && /cmd=(brpop|blmove) /.test(c)) ? true : undefined;
          },
          { what: 'the worker to block in its idle pop', intervalMs: 5, detail: () => worker.output() },
        );
        const id = `kill-${delayMs}-${trial}`;
        const raw = encodeTaskEnvelope({ id, task: 'tasks.record', args: [], kwargs: {}, queue: QUEUE });
        process.kill(worker.pid, 'SIGKILL');
        if (delayMs > 0) spin(delayMs);
        await pusher.lpush(QUEUE, raw);
        await worker.kill();
        await restorer.restoreOwner(worker.ownerId);
        const queued = await brokerDb.lrange(QUEUE, 0, -1);
        if (!queued.some((entry) => (JSON.parse(entry) as { headers: { id: string } }).headers.id === id)) {
          lost[delayMs] += 1;
        }
        while ((await brokerDb.lmove(QUEUE, DONE_QUEUE, 'RIGHT', 'LEFT')) !== null) {
          // every restored entry, for the survivor
        }
        ids.push(id);
      }
    }
    console.log(
      `sigkill-idle-pop: ${TRIALS} trials per delay; lost per delay (ms): ` +
        DELAYS_MS.map((d) => `${d}: ${lost[d]}/${TRIALS}`).join(', '),
    );

    // A survivor runs every task exactly once.
    const survivor = await CeleriacWorkerProcess.start({ config, queues: [DONE_QUEUE], concurrency: 4 });
    workers.push(survivor);
    const runs = await pollUntil(
      async () => {
        const recorded = await brokerDb.hgetall('interop.runs');
        return ids.every((id) => recorded[id] !== undefined) ? recorded : undefined;
      },
      { what: 'the survivor to run every task', timeoutMs: 60_000, intervalMs: 100, detail: () => survivor.output() },
    ).catch(() => brokerDb.hgetall('interop.runs'));
    const missing = ids.filter((id) => runs[id] === undefined).length;
    const twice = ids.filter((id) => Number(runs[id] ?? 0) > 1).length;
    console.log(`sigkill-idle-pop: ${ids.length} tasks, ${missing} never ran, ${twice} ran more than once`);
    expect(lost).toEqual(Object.fromEntries(DELAYS_MS.map((d) => [d, 0])));
    expect({ missing, twice }).toEqual({ missing: 0, twice: 0 });
  });
});
