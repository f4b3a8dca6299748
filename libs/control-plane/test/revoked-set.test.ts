import { RevokedSet, revokedKey } from '@celeriac/control-plane';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { pyJsonDumps } from '../src/py-json.js';
import { capturingLogger, inspector } from './helpers.js';

let redis: RedisServer;
let r: Redis;
const log = capturingLogger();
const sets: RevokedSet[] = [];

function revokedSet(options: { maxEntries?: number; expiresMs?: number; keyPrefix?: string } = {}) {
  const set = new RevokedSet({ redis: r, logger: log.logger, syncIntervalMs: 0, ...options });
  sets.push(set);
  return set;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  r = inspector(redis.url());
});

afterAll(async () => {
  for (const set of sets) set.close();
  r?.disconnect();
  await redis?.stop();
});

describe('RevokedSet', () => {
  it('is shared: a node that starts later loads ids revoked before it started', async () => {
    const first = revokedSet({ keyPrefix: 'shared:' });
    await first.start();
    await first.add(['t-1', 't-2']);
    const later = revokedSet({ keyPrefix: 'shared:' });
    await later.start();
    expect(later.has('t-1') && later.has('t-2')).toBe(true);
    expect(later.has('t-3')).toBe(false);
    // Ids added by another node after start come in with refresh().
    await first.add(['t-3']);
    expect(await later.refresh()).toBe(1);
    expect(later.ids()).toEqual(['t-1', 't-2', 't-3']);
    expect(await r.zcard(revokedKey('shared:'))).toBe(3);
  });

  it('is bounded like LimitedSet: the oldest ids go first, in memory and in Redis', async () => {
    const set = revokedSet({ keyPrefix: 'bounded:', maxEntries: 5 });
    await set.start();
    for (let i = 0; i < 8; i++) await set.add([`b-${i}`], Date.now() + i);
    expect(set.size).toBe(5);
    expect(set.has('b-0')).toBe(false);
    expect(set.has('b-7')).toBe(true);
    expect(await r.zrange(revokedKey('bounded:'), 0, -1)).toEqual(['b-3', 'b-4', 'b-5', 'b-6', 'b-7']);
  });

  it('expires ids, in memory and in Redis', async () => {
    const set = revokedSet({ keyPrefix: 'expiring:', expiresMs: 150 });
    await set.start();
    await set.add(['e-1']);
    expect(set.has('e-1')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(set.has('e-1')).toBe(false);
    await set.add(['e-2']);
    expect(await r.zrange(revokedKey('expiring:'), 0, -1)).toEqual(['e-2']);
    const later = revokedSet({ keyPrefix: 'expiring:', expiresMs: 150 });
    await later.start();
    expect(later.ids()).toEqual(['e-2']);
  });

  it('speaks mingle: float monotonic timestamps out, both Celery forms in', async () => {
    const set = revokedSet({ keyPrefix: 'mingle:' });
    await set.start();
    await set.add(['m-1']);
    const text = pyJsonDumps(set.mingleEntries());
    expect(text).toMatch(/^\{"m-1": \[\d+\.\d+(e[+-]\d+)?, "m-1"\]\}$/);
    const mono = Number(process.hrtime.bigint()) / 1e9;
    await set.mergeMingle({
      'from-list': [mono - 10, 'from-list'],
      'from-float': mono - 5,
      'too-old': [mono - 4 * 3600, 'too-old'],
      'other-host-clock': [mono + 1e6, 'other-host-clock'],
    });
    expect(set.has('from-list') && set.has('from-float') && set.has('other-host-clock')).toBe(true);
    expect(set.has('too-old')).toBe(false);
    await set.mergeMingle(null);
    await set.mergeMingle(['not', 'a', 'map']);
    expect(set.size).toBe(4);
  });
});
