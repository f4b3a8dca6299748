import { ControlClient } from '@celeriac/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { capturingLogger } from './helpers.js';

let redis: RedisServer;
const log = capturingLogger();

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.stop();
});

describe('ControlClient.abort', () => {
  it('ends a collection under way at once with the replies so far; close() then returns', async () => {
    const client = new ControlClient({ url: redis.url(), logger: log.logger });
    const started = Date.now();
    const pending = client.broadcast('ping', {}, { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.abort();
    expect(await pending).toEqual([]);
    await client.close();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await client.broadcast('ping', {}, { timeoutMs: 100 }).catch((e: Error) => e.name)).toBe(
      'ControlClosedError',
    );
  });
});
