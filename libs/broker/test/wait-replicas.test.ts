import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { brokerOptionsFromCelery, RedisBroker } from '../src/index.js';
import { inspector, testLogger } from './helpers.js';

// celeriac_broker_wait_replicas: a publish resolves only once Redis's WAIT says enough replicas
// have it (test/chaos/sentinel-failover.test.ts shows it losing nothing in a failover); here, a
// server without replicas makes every such publish fail, with the reason, instead of pretending.
let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

describe('celeriac_broker_wait_replicas', () => {
  it('reads the settings into broker options and refuses bad values', () => {
    expect(brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 2 }).waitReplicas).toEqual({
      replicas: 2,
      timeoutMs: 5_000,
    });
    expect(
      brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 1, celeriac_broker_wait_timeout: 0.25 }).waitReplicas,
    ).toEqual({ replicas: 1, timeoutMs: 250 });
    expect(brokerOptionsFromCelery({}).waitReplicas).toBeUndefined();
    expect(brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 0 }).waitReplicas).toBeUndefined();
    expect(() => brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 1.5 })).toThrow(
      /celeriac_broker_wait_replicas must be an integer/,
    );
    expect(() =>
      brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 1, celeriac_broker_wait_timeout: 0 }),
    ).toThrow(/celeriac_broker_wait_timeout must be a number of seconds > 0/);
  });

  it('fails a publish that no replica acknowledged, naming the setting; without it the same publish resolves', async () => {
    const waiting = new RedisBroker({
      url: server.url(0),
      logger: testLogger(),
      ...brokerOptionsFromCelery({ celeriac_broker_wait_replicas: 1, celeriac_broker_wait_timeout: 0.2 }),
    });
    const plain = new RedisBroker({ url: server.url(0), logger: testLogger() });
    const db = inspector(server.url(0));
    try {
      await waiting.start();
      await plain.start();
      await expect(waiting.publish('wait-q', 'one')).rejects.toThrow(
        /WAIT: 0 of 1 replicas acknowledged the publish within 200 ms \(celeriac_broker_wait_replicas\)/,
      );
      // The write itself happened (WAIT cannot undo it): the caller knows it may be lost, not that it is.
      expect(await db.llen('wait-q')).toBe(1);
      await plain.publish('wait-q', 'two');
      expect(await db.llen('wait-q')).toBe(2);
    } finally {
      await waiting.close();
      await plain.close();
      db.disconnect();
    }
  });
});
