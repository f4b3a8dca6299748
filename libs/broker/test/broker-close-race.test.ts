import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisBroker } from '../src/index.js';
import { rawEntry, testLogger } from './helpers.js';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  admin = new Redis(server.url(0));
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

describe('close() while a blocking pop waits', () => {
  it('never loses an entry that arrives at the moment of closing', async () => {
    const rounds = 60;
    let delivered = 0;
    for (let round = 0; round < rounds; round++) {
      const broker = new RedisBroker({ url: server.url(0), logger: testLogger() });
      await broker.start();
      const waiting = broker.waitForOne(['race'], 5);
      // Give BRPOP time to reach Redis; close right when the push is acknowledged, which is when
      // Redis has just served the pop but the blocking connection may not have read the reply yet.
      await new Promise((r) => setTimeout(r, 5));
      await admin.lpush('race', rawEntry(`race-${round}`));
      const closing = broker.close();
      const [delivery] = await Promise.all([waiting, closing]);
      if (delivery) delivered++;
    }
    // Every entry is either still queued, or was delivered and recorded as unacked.
    const queued = await admin.llen('race');
    const unacked = await admin.hlen('unacked');
    expect(queued + unacked).toBe(rounds);
    expect(unacked).toBe(delivered);
  });
});
