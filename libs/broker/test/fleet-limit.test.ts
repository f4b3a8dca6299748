import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisServer } from '../../../test/support/redis-server.js';
import {
  type FleetLimit,
  FleetLimitClient,
  fleetCapacity,
  fleetLimitsFromSettings,
  fleetSlotsKey,
  parseFleetLimitDocument,
} from '../src/index.js';
import { testLogger, until, useBrokerServer } from './helpers.js';

let server: RedisServer;
let redis: Redis;
useBrokerServer((s, r) => {
  server = s;
  redis = r;
});

const clients: FleetLimitClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function client(): Promise<FleetLimitClient> {
  const c = new FleetLimitClient({ url: server.url(0), logger: testLogger() });
  clients.push(c);
  await c.start();
  return c;
}

function limit(over: Partial<FleetLimit>): FleetLimit {
  return {
    id: 'task:tasks.add',
    scope: 'task',
    target: 'tasks.add',
    rate: null,
    ratePerSec: null,
    concurrency: null,
    key: null,
    leaseMs: 30_000,
    ...over,
  };
}

describe('fleet limit definitions', () => {
  it('reads task annotations and celeriac_fleet_limits, in Celery notation', () => {
    const limits = fleetLimitsFromSettings({
      task_annotations: {
        'tasks.add': { rate_limit: '5/s', fleet_rate_limit: '20/s' },
        'tasks.sleep': { fleet_concurrency: 2, fleet_lease: 3, fleet_limit_key: 'tenant_id' },
        'tasks.plain': { rate_limit: '1/s' },
      },
      celeriac_fleet_limits: { queues: { math: { rate_limit: '1000/h', concurrency: 4 } } },
    });
    expect(limits.map((l) => [l.id, l.ratePerSec, l.concurrency, l.key, l.leaseMs])).toEqual([
      ['queue:math', 1000 / 3600, 4, null, 30_000],
      ['task:tasks.add', 20, null, null, 30_000],
      ['task:tasks.sleep', null, 2, 'tenant_id', 3_000],
    ]);
    expect(() => fleetLimitsFromSettings({ task_annotations: { 'tasks.add': { fleet_rate_limit: 'fast' } } })).toThrow(
      /tasks.add/,
    );
    expect(() => fleetLimitsFromSettings({ task_annotations: { '*': { fleet_rate_limit: '1/s' } } })).toThrow(/\*/);
    const doc = { version: 1, revision: 7, source: 'test', limits };
    expect(parseFleetLimitDocument(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('fleet token bucket (fleet-take.lua)', () => {
  it('grants a batch up to the capacity, then at the rate, shared by every client', async () => {
    const [a, b] = [await client(), await client()];
    const l = limit({ rate: '20/s', ratePerSec: 20 });
    expect(fleetCapacity(20)).toBe(5);
    const first = await a.take(l, null, 100);
    expect(first.granted).toBe(5);
    expect(first.waitMs).toBeGreaterThan(0);
    expect(first.waitMs).toBeLessThanOrEqual(50);
    const second = await b.take(l, null, 100);
    expect(second.granted).toBeLessThanOrEqual(1);
    // Over ~1 s two clients asking in turn get about 20 tokens between them, never the 200 asked for.
    const started = Date.now();
    let granted = first.granted + second.granted;
    while (Date.now() - started < 1000) {
      granted += (await a.take(l, null, 100)).granted + (await b.take(l, null, 100)).granted;
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsed = (Date.now() - started) / 1000;
    expect(granted).toBeGreaterThanOrEqual(Math.floor(5 + 20 * elapsed * 0.9));
    expect(granted).toBeLessThanOrEqual(Math.ceil(5 + 1 + 20 * elapsed));
  });

  it('keeps one bucket per key value and counts grants for metrics', async () => {
    const a = await client();
    const l = limit({ rate: '10/s', ratePerSec: 10, key: 'tenant' });
    expect((await a.take(l, 'acme', 10)).granted).toBe(3);
    expect((await a.take(l, 'acme', 10)).granted).toBe(0);
    expect((await a.take(l, 'globex', 10)).granted).toBe(3);
    const [snap] = await a.snapshot([l]);
    expect(snap?.granted).toBe(6);
    expect(snap?.tokens).toBeNull();
  });
});

describe('fleet concurrency slots (fleet-acquire.lua, -release, -renew)', () => {
  it('holds at most N slots across clients, returns them on release and after the lease of a dead holder', async () => {
    const [a, b] = [await client(), await client()];
    const l = limit({ concurrency: 2, leaseMs: 800 });
    expect((await a.acquire(l, null, ['a1', 'a2', 'a3'])).granted).toBe(2);
    const refused = await b.acquire(l, null, ['b1']);
    expect(refused).toMatchObject({ granted: 0, held: 2 });
    expect(refused.waitMs).toBeGreaterThan(0);
    expect(refused.waitMs).toBeLessThanOrEqual(800);
    // a1 is given back: b gets it.
    expect(await a.release([{ key: fleetSlotsKey(l.id, null), member: 'a1' }])).toBe(1);
    expect((await b.acquire(l, null, ['b1'])).granted).toBe(1);
    const b1 = { key: fleetSlotsKey(l.id, null), member: 'b1' };
    // b1's task runs on: b renews its lease (renewed below every 250 ms as a worker does every lease / 3).
    expect(await b.renew(5_000, [b1])).toBe(1);
    // a "dies" holding a2: b gets that slot back once the lease ran out, not before.
    const diedAt = Date.now();
    expect((await b.acquire(l, null, ['b2'])).granted).toBe(0);
    await until(async () => (await b.acquire(l, null, ['b2'])).granted === 1, 3000, 20);
    const waited = Date.now() - diedAt;
    expect(waited).toBeLessThanOrEqual(800 + 300);
    // b renews b1 while its task runs: it keeps the slot past the lease.
    for (let i = 0; i < 5; i++) {
      await b.renew(800, [b1]);
      await new Promise((r) => setTimeout(r, 250));
    }
    // 1.25 s later: b1 (renewed) still holds its slot, b2 (not renewed, lease 0.8 s) lost its own to c1.
    expect((await a.acquire(l, null, ['c1'])).granted).toBe(1);
    const members = await redis.zrange(fleetSlotsKey(l.id, null), 0, -1);
    expect(members.sort()).toEqual(['b1', 'c1']);
  });

  it('gives back at once every slot of a dead owner (what the agent does when a worker dies)', async () => {
    const [a, b] = [await client(), await client()];
    const l = limit({ concurrency: 2, leaseMs: 60_000, key: 'tenant' });
    const member = (owner: string, n: number) => `${owner}\x06\x16task-${n}\x06\x16tag-${n}`;
    expect((await a.acquire(l, 'acme', [member('w1@h:1', 1), member('w1@h:1', 2)])).granted).toBe(2);
    expect((await a.acquire(l, 'globex', [member('w1@h:1', 3), member('w2@h:2', 4)])).granted).toBe(2);
    expect((await b.acquire(l, 'acme', [member('w2@h:2', 5)])).granted).toBe(0);
    expect(await b.releaseOwner('w1@h:1')).toBe(3);
    expect((await b.acquire(l, 'acme', [member('w2@h:2', 5)])).granted).toBe(1);
    expect(await redis.zrange(fleetSlotsKey(l.id, 'globex'), 0, -1)).toEqual([member('w2@h:2', 4)]);
  });
});

describe('fleet limit document', () => {
  it('is written atomically with an announcement that watchers get', async () => {
    const [writer, watcher] = [await client(), await client()];
    expect(await watcher.readDocument()).toBeNull();
    let announced = 0;
    await watcher.watch(() => {
      announced++;
    });
    const doc = { version: 1 as const, revision: 3, source: 'test', limits: [limit({ rate: '20/s', ratePerSec: 20 })] };
    await writer.writeDocument(doc);
    await until(() => announced > 0, 2000);
    expect(await watcher.readDocument()).toEqual(doc);
  });
});
