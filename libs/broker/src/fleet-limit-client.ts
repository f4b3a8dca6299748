import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerUnavailableError,
  isReplyError,
} from './errors.js';
import {
  type FleetLimit,
  type FleetLimitDocument,
  fleetCapacity,
  parseFleetLimitDocument,
} from './fleet-limit-definitions.js';
import {
  FLEET_LIMITS_KEY,
  FLEET_SLOTS_PREFIX,
  FLEET_WAITING_KEY,
  fleetLimitsChannel,
  fleetRateKey,
  fleetSlotsKey,
  fleetStatsKey,
} from './fleet-limit-keys.js';
import { SEP } from './keys.js';
import { type BrokerScripts, defineBrokerScripts } from './scripts/load-scripts.js';

/** Options of a `FleetLimitClient`. */
export interface FleetLimitClientOptions {
  /** The broker URL: the limits live on the broker Redis every worker shares. */
  url: string;
  logger: Logger;
  /** kombu's `global_keyprefix` (broker_transport_options), on every key and channel; '' = none. */
  keyPrefix?: string;
}

/** The reply to a batch of tokens asked for. */
export interface FleetTakeReply {
  granted: number;
  /** Ms until the bucket has a whole token again (0: it has one). */
  waitMs: number;
  /** Tokens left in the bucket after the call. */
  tokensLeft: number;
}

/** The reply to slots asked for. */
export interface FleetAcquireReply {
  /** The first `granted` members asked for hold a slot now. */
  granted: number;
  /** Ms until the earliest lease held expires (0: none held). */
  waitMs: number;
  /** Slots held across the fleet after the call. */
  held: number;
}

/** One slot a task holds: its sorted set and member. */
export interface FleetSlot {
  key: string;
  member: string;
}

/** What one worker reports per limit: tasks waiting for it here, and slots it holds. */
export interface FleetWaitingReport {
  [limitId: string]: { waiting: number; running: number };
}

/** A limit's state across the fleet, for the agent's `/metrics`. */
export interface FleetLimitSnapshot {
  limit: FleetLimit;
  /** Grants in the last whole second. */
  currentRate: number;
  /** Grants since the stats began (they expire when the limit is idle long enough). */
  granted: number;
  /** Tokens in the bucket now (refilled to now); null for a per-key or rate-less limit. */
  tokens: number | null;
  /** Slots held now; null for a per-key or concurrency-less limit (see `running`). */
  slotsHeld: number | null;
  /** Tasks waiting for the limit in the workers that reported in the last 5 s. */
  waiting: number;
  /** Tasks running under the limit's slots in those workers. */
  running: number;
  /** Workers that reported in the last 5 s. */
  workers: number;
}

/** A worker report older than this is not counted. */
const REPORT_FRESH_MS = 5_000;
/** Stats hashes live at least this long without grants. */
const MIN_STATS_TTL_MS = 60_000;

/**
 * The broker side of fleet-wide limits (docs/fleet-limits.md): the limit document
 * (`celeriac.fleet-limits`, announced on the channel of the same name), token buckets taken in
 * batches (`fleet-take.lua`), concurrency slots with leases (`fleet-acquire.lua`, `-release`,
 * `-renew`) and the workers' waiting reports. One command connection, plus one subscriber once
 * `watch()` is called.
 */
export class FleetLimitClient {
  private readonly redis: Redis & BrokerScripts;
  private subscriber: Redis | null = null;
  private closed = false;
  private readonly keyPrefix: string;

  constructor(private readonly o: FleetLimitClientOptions) {
    this.keyPrefix = o.keyPrefix ?? '';
    const connection = createRedisConnection(o.url, 'fleet-limits', o.logger);
    // Before the scripts are defined: ioredis gives each script the key prefix it has at definition.
    if (this.keyPrefix !== '') connection.options.keyPrefix = this.keyPrefix;
    this.redis = defineBrokerScripts(connection);
  }

  /** Connects; rejects with `BrokerUnavailableError` when Redis cannot be reached. */
  async start(): Promise<void> {
    await this.run('fleet limits start', () => this.redis.connect());
  }

  /** The document in force, or null when none was written. */
  async readDocument(): Promise<FleetLimitDocument | null> {
    const text = await this.run('fleet limits read', () => this.redis.get(FLEET_LIMITS_KEY));
    return text === null ? null : parseFleetLimitDocument(text);
  }

  /** Writes the document and announces it to every watching worker, atomically. */
  async writeDocument(doc: FleetLimitDocument): Promise<void> {
    await this.run('fleet limits write', () =>
      this.redis
        .multi()
        .set(FLEET_LIMITS_KEY, JSON.stringify(doc))
        .publish(fleetLimitsChannel(this.keyPrefix), String(doc.revision ?? ''))
        .exec(),
    );
  }

  /**
   * Calls `onChange` whenever a new document is announced, and after every reconnect of the
   * subscriber (an announcement may have been missed meanwhile). Resolves once subscribed.
   */
  async watch(onChange: () => void): Promise<void> {
    if (this.subscriber !== null) throw new BrokerArgumentError('watch() was called twice on one FleetLimitClient');
    const sub = createRedisConnection(this.o.url, 'fleet-limits-sub', this.o.logger);
    this.subscriber = sub;
    let subscribed = false;
    sub.on('message', () => onChange());
    sub.on('ready', () => {
      if (subscribed) onChange();
    });
    await this.run('fleet limits watch', async () => {
      await sub.connect();
      await sub.subscribe(fleetLimitsChannel(this.keyPrefix));
    });
    subscribed = true;
  }

  /** Takes up to `want` tokens of `limit` (for key value `keyValue`) in one round trip. */
  async take(limit: FleetLimit, keyValue: string | null, want: number): Promise<FleetTakeReply> {
    const rate = limit.ratePerSec as number;
    const capacity = fleetCapacity(rate);
    const ttl = Math.ceil((capacity / rate) * 1000) + 1000;
    const [granted, waitMs, left] = await this.run('fleet take', () =>
      this.redis.fleetTake(
        2,
        fleetRateKey(limit.id, keyValue),
        fleetStatsKey(limit.id),
        String(rate),
        String(capacity),
        String(Math.max(1, Math.floor(want))),
        String(Math.max(ttl, MIN_STATS_TTL_MS)),
      ),
    );
    return { granted: Number(granted), waitMs: Number(waitMs), tokensLeft: Number(left) / 1000 };
  }

  /** Asks for a slot of `limit` for each member, in order, in one round trip. */
  async acquire(limit: FleetLimit, keyValue: string | null, members: readonly string[]): Promise<FleetAcquireReply> {
    const [granted, waitMs, held] = await this.run('fleet acquire', () =>
      this.redis.fleetAcquire(
        1,
        fleetSlotsKey(limit.id, keyValue),
        String(limit.concurrency),
        String(limit.leaseMs),
        ...members,
      ),
    );
    return { granted: Number(granted), waitMs: Number(waitMs), held: Number(held) };
  }

  /** Gives slots back; resolves with the number still held until now. */
  async release(slots: readonly FleetSlot[]): Promise<number> {
    if (slots.length === 0) return 0;
    return this.run('fleet release', () =>
      this.redis.fleetRelease(slots.length, ...slots.map((s) => s.key), ...slots.map((s) => s.member)),
    );
  }

  /** Extends the leases of slots still held (running tasks), by `leaseMs` from now. */
  async renew(leaseMs: number, slots: readonly FleetSlot[]): Promise<number> {
    if (slots.length === 0) return 0;
    return this.run('fleet renew', () =>
      this.redis.fleetRenew(slots.length, ...slots.map((s) => s.key), String(leaseMs), ...slots.map((s) => s.member)),
    );
  }

  /**
   * Gives back every slot a dead worker held (the agent calls it when a worker dies, so its slots
   * return at once instead of at the end of their leases) and drops its report; resolves with the
   * number of slots freed.
   */
  async releaseOwner(ownerId: string): Promise<number> {
    return this.run('fleet release owner', async () => {
      const prefix = ownerId + SEP;
      let freed = 0;
      let cursor = '0';
      do {
        // SCAN's pattern and reply carry the key prefix; the commands below add it themselves.
        const [next, keys] = await this.redis.scan(
          cursor,
          'MATCH',
          `${this.keyPrefix}${FLEET_SLOTS_PREFIX}*`,
          'COUNT',
          200,
        );
        cursor = next;
        for (const prefixed of keys) {
          const key = prefixed.slice(this.keyPrefix.length);
          const members = (await this.redis.zrange(key, 0, -1)).filter((m) => m.startsWith(prefix));
          if (members.length > 0) freed += await this.redis.zrem(key, ...members);
        }
      } while (cursor !== '0');
      await this.redis.hdel(FLEET_WAITING_KEY, ownerId);
      return freed;
    });
  }

  /** Records what this worker waits for and runs per limit (null: drops its report). */
  async report(ownerId: string, report: FleetWaitingReport | null): Promise<void> {
    await this.run('fleet report', async () => {
      if (report === null) await this.redis.hdel(FLEET_WAITING_KEY, ownerId);
      else await this.redis.hset(FLEET_WAITING_KEY, ownerId, JSON.stringify({ at: Date.now(), limits: report }));
    });
  }

  /** Every limit's state across the fleet (current rate, tokens, slots, waiting tasks). */
  async snapshot(limits: readonly FleetLimit[]): Promise<FleetLimitSnapshot[]> {
    return this.run('fleet snapshot', async () => {
      const pipeline = this.redis.pipeline().time().hgetall(FLEET_WAITING_KEY);
      for (const limit of limits) {
        pipeline.hmget(fleetStatsKey(limit.id), 'w', 'c', 'p', 'g');
        pipeline.hmget(fleetRateKey(limit.id, null), 't', 'ts');
        pipeline.zrange(fleetSlotsKey(limit.id, null), 0, -1, 'WITHSCORES');
      }
      const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => {
        if (error) throw error;
        return value;
      });
      const [sec, micro] = replies[0] as [string, string];
      const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
      const reports = Object.values((replies[1] ?? {}) as Record<string, string>)
        .map((text) => {
          try {
            return JSON.parse(text) as { at: number; limits: FleetWaitingReport };
          } catch {
            return null;
          }
        })
        .filter((r): r is { at: number; limits: FleetWaitingReport } => r !== null && now - r.at <= REPORT_FRESH_MS);
      return limits.map((limit, i) => {
        const [w, c, p, g] = (replies[2 + i * 3] as (string | null)[]).map((v) => (v === null ? null : Number(v)));
        const second = Math.floor(now / 1000);
        const currentRate = w === second ? (p ?? 0) : w === second - 1 ? (c ?? 0) : 0;
        const [t, ts] = (replies[3 + i * 3] as (string | null)[]).map((v) => (v === null ? null : Number(v)));
        let tokens: number | null = null;
        if (limit.ratePerSec !== null && limit.key === null) {
          const capacity = fleetCapacity(limit.ratePerSec);
          tokens =
            t == null || ts == null
              ? capacity
              : Math.min(capacity, t + (Math.max(0, now - ts) / 1000) * limit.ratePerSec);
        }
        const slots = replies[4 + i * 3] as string[];
        let slotsHeld: number | null = null;
        if (limit.concurrency !== null && limit.key === null) {
          slotsHeld = 0;
          for (let j = 1; j < slots.length; j += 2) if (Number(slots[j]) > now) slotsHeld++;
        }
        let waiting = 0;
        let running = 0;
        for (const r of reports) {
          waiting += r.limits[limit.id]?.waiting ?? 0;
          running += r.limits[limit.id]?.running ?? 0;
        }
        return { limit, currentRate, granted: g ?? 0, tokens, slotsHeld, waiting, running, workers: reports.length };
      });
    });
  }

  /** Closes both connections; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([
      closeRedisConnection(this.redis),
      this.subscriber === null ? undefined : closeRedisConnection(this.subscriber),
    ]);
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new BrokerClosedError(operation, 'closed');
    try {
      return await fn();
    } catch (error) {
      if (this.closed) throw new BrokerClosedError(operation, 'closed');
      throw isReplyError(error)
        ? new BrokerCommandError(this.o.url, operation, error)
        : new BrokerUnavailableError(this.o.url, operation, error);
    }
  }
}
