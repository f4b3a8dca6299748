import { logSchemaViolations } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger as capture } from '../../../test/support/capturing-logger.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisResultBackend } from '../src/index.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(1));
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('result backend log lines follow the log schema', () => {
  it('a message that is not a result is logged as result_backend.bad_message with the Error in err', async () => {
    const { logger, lines } = capture();
    const b = new RedisResultBackend({ url: server.url(1), logger });
    await b.start();
    try {
      const waiting = b.waitFor('t-bad', 2_000);
      await until(
        async () => Number(((await redis.pubsub('NUMSUB', 'celery-task-meta-t-bad')) as [string, number])[1]) === 1,
      );
      await redis.publish('celery-task-meta-t-bad', 'not a document');
      await until(async () => lines().some((l) => l.event === 'result_backend.bad_message'));
      await redis.publish('celery-task-meta-t-bad', JSON.stringify({ status: 'STARTED', task_id: 't-bad' }));
      await redis.publish('celery-task-meta-t-bad', JSON.stringify({ status: 'SUCCESS', result: 1, task_id: 't-bad' }));
      expect((await waiting)?.status).toBe('SUCCESS');
    } finally {
      await b.close();
    }
    expect(lines().find((l) => l.event === 'result_backend.bad_message')).toMatchObject({
      channel: 'celery-task-meta-t-bad',
      err: { type: 'ResultDecodeError', message: expect.any(String) },
    });
    expect(lines().find((l) => l.event === 'result_backend.update')).toMatchObject({
      task_id: 't-bad',
      status: 'STARTED',
    });
    expect(
      lines()
        .filter((l) => l.event === 'result_backend.state')
        .map((l) => [l.from, l.state]),
    ).toEqual([
      ['created', 'started'],
      ['started', 'closed'],
    ]);
    for (const line of lines()) expect(logSchemaViolations(line), JSON.stringify(line)).toEqual([]);
  });

  it('a failed re-read after the subscriber reconnects is retried, not thrown at the waiter', async () => {
    const { logger, lines } = capture();
    const b = new RedisResultBackend({ url: server.url(1), logger });
    await b.start();
    const channel = 'celery-task-meta-t-reread';
    const numsub = async () => Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    // The reads a wait makes (one beside the SUBSCRIBE, one once subscribed) must be done before
    // the key is broken, or the second one fails the waiter instead of a re-read failing.
    const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    await redis.config('RESETSTAT');
    try {
      const waiting = b.waitFor('t-reread', 10_000);
      await until(async () => (await numsub()) === 1 && (await gets()) >= 2);
      // A key of the wrong type makes the re-read fail (WRONGTYPE), as a read during a restart can.
      await redis.rpush(channel, 'not a string');
      await redis.client('KILL', 'TYPE', 'pubsub');
      await until(async () => lines().some((l) => l.event === 'result_backend.reread_failed'));
      await redis.del(channel);
      await until(async () => (await numsub()) === 1);
      const doc = JSON.stringify({ status: 'SUCCESS', result: 7, task_id: 't-reread' });
      await redis.set(channel, doc);
      await redis.publish(channel, doc);
      expect((await waiting)?.result).toBe(7);
    } finally {
      await b.close();
    }
    expect(lines().find((l) => l.event === 'result_backend.reread_failed')).toMatchObject({
      err: { type: 'ResultBackendUnavailableError' },
    });
    for (const line of lines()) expect(logSchemaViolations(line), JSON.stringify(line)).toEqual([]);
  });
});
