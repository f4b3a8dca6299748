// global_keyprefix beyond RedisBroker: the fleet-limit keys and channel, the agent's owner restorer,
// and the settings check of broker_transport_options — against a real redis-server.
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnerRestorer } from '../../../apps/agent/src/owner-restorer.js';
import type { RedisServer } from '../../../test/support/redis-server.js';
import { reportCelerySettings, validateEffectiveConfig } from '../../config-schema/src/index.js';
import { type FleetLimit, FleetLimitClient, fleetSlotMember, globalKeyPrefixFromSettings } from '../src/index.js';
import { rawEntry, testLogger, until, useBrokerServer } from './helpers.js';

const PREFIX = 'tenant7:';

let server: RedisServer;
let redis: Redis;
const { broker } = useBrokerServer((s, r) => {
  server = s;
  redis = r;
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await redis.flushall();
});

async function fleetClient(keyPrefix: string): Promise<FleetLimitClient> {
  const c = new FleetLimitClient({ url: server.url(0), logger: testLogger(), keyPrefix });
  closers.push(() => c.close());
  await c.start();
  return c;
}

const unprefixed = async () => (await redis.keys('*')).filter((k) => !k.startsWith(PREFIX));

const LIMIT: FleetLimit = {
  id: 'task:tasks.add',
  scope: 'task',
  target: 'tasks.add',
  rate: '10/s',
  ratePerSec: 10,
  concurrency: 2,
  key: null,
  leaseMs: 30_000,
};

describe('fleet limits under global_keyprefix', () => {
  it('keeps the document, buckets, slots, stats and reports under the prefix, and announces on the prefixed channel', async () => {
    const writer = await fleetClient(PREFIX);
    const watcher = await fleetClient(PREFIX);
    const other = await fleetClient('');
    let announced = 0;
    let announcedUnprefixed = 0;
    await watcher.watch(() => {
      announced += 1;
    });
    await other.watch(() => {
      announcedUnprefixed += 1;
    });
    await writer.writeDocument({ version: 1, revision: 3, source: 'test', limits: [LIMIT] });
    await until(() => announced === 1, 10_000);
    expect((await watcher.readDocument())?.revision).toBe(3);
    // The unprefixed client neither sees the document nor hears the announcement.
    expect(await other.readDocument()).toBeNull();

    expect((await writer.take(LIMIT, null, 3)).granted).toBe(3);
    const members = ['a', 'b', 'c'].map((t) => fleetSlotMember('w1@h:1', `id-${t}`, `tag-${t}`));
    expect((await writer.acquire(LIMIT, null, members)).granted).toBe(2);
    await writer.report('w1@h:1', { [LIMIT.id]: { waiting: 1, running: 2 } });
    const [snapshot] = await writer.snapshot([LIMIT]);
    expect(snapshot).toMatchObject({ slotsHeld: 2, waiting: 1, running: 2, workers: 1 });

    const keys = (await redis.keys('*')).sort();
    expect(keys).toEqual(
      [
        `${PREFIX}celeriac.fleet-limits`,
        `${PREFIX}celeriac.fleet.rate.task:tasks.add`,
        `${PREFIX}celeriac.fleet.slots.task:tasks.add`,
        `${PREFIX}celeriac.fleet.stats.task:tasks.add`,
        `${PREFIX}celeriac.fleet.waiting`,
      ].sort(),
    );
    // releaseOwner finds the prefixed slot keys by SCAN and frees the dead owner's slots.
    expect(await writer.releaseOwner('w1@h:1')).toBe(2);
    expect(await redis.zcard(`${PREFIX}celeriac.fleet.slots.task:tasks.add`)).toBe(0);
    expect(await redis.hexists(`${PREFIX}celeriac.fleet.waiting`, 'w1@h:1')).toBe(0);
    expect(announcedUnprefixed).toBe(0);
    expect(await unprefixed()).toEqual([]);
  });
});

describe("the agent's owner restorer under global_keyprefix", () => {
  it('puts back what a dead prefixed owner held, onto the prefixed queue', async () => {
    const owner = await broker({ ownerId: 'w1@host:111', transport: { globalKeyPrefix: PREFIX } });
    const producer = await broker({ transport: { globalKeyPrefix: PREFIX } });
    await producer.publishMany([
      { queue: 'celery', raw: rawEntry('t1') },
      { queue: 'celery', raw: rawEntry('t2') },
    ]);
    const taken = await owner.fetchBatch(['celery'], 10);
    expect(taken).toHaveLength(2);
    expect(await redis.llen(`${PREFIX}celery`)).toBe(0);

    const restorer = new OwnerRestorer(testLogger());
    closers.push(() => restorer.close());
    // Without the prefix the restorer looks at keys no worker wrote: nothing comes back.
    expect(await restorer.restore(server.url(0), 'w1@host:111')).toBe(0);
    expect(await restorer.restore(server.url(0), 'w1@host:111', PREFIX)).toBe(2);
    expect(await redis.llen(`${PREFIX}celery`)).toBe(2);
    expect(await redis.hlen(`${PREFIX}unacked`)).toBe(0);
    expect(await unprefixed()).toEqual([]);
  });
});

describe('broker_transport_options settings check', () => {
  it('refuses a bad queue_order_strategy and a non-string global_keyprefix by path', () => {
    const bad = validateEffectiveConfig({
      celery: { broker_transport_options: { queue_order_strategy: 'fifo', global_keyprefix: 7 } },
      programs: {},
    });
    expect(bad.ok).toBe(false);
    const issues = bad.ok ? [] : bad.issues.map((i) => i.path);
    expect(issues).toContain('celery.broker_transport_options.queue_order_strategy');
    expect(issues).toContain('celery.broker_transport_options.global_keyprefix');
    for (const strategy of ['round_robin', 'priority', 'sorted']) {
      const good = validateEffectiveConfig({
        celery: { broker_transport_options: { queue_order_strategy: strategy, global_keyprefix: '' } },
        programs: {},
      });
      expect(good.ok).toBe(true);
    }
    const report = reportCelerySettings({ broker_transport_options: { queue_order_strategy: 'fifo' } });
    expect(report.issues.map((i) => i.path)).toEqual(['broker_transport_options.queue_order_strategy']);
  });

  it('reads the prefix from settings for the programs beside RedisBroker', () => {
    expect(globalKeyPrefixFromSettings({})).toBe('');
    expect(globalKeyPrefixFromSettings({ broker_transport_options: { global_keyprefix: 'a:' } })).toBe('a:');
    expect(() => globalKeyPrefixFromSettings({ broker_transport_options: { global_keyprefix: 1 } })).toThrow(
      /global_keyprefix must be a string/,
    );
  });
});
