import type { Logger } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { type PyFloat, pyFloat } from './py-json.js';
import { revokedKey } from './wire-names.js';

/** Celery's `REVOKES_MAX`. */
export const REVOKES_MAX = 50_000;
/** Celery's `REVOKE_EXPIRES` (10800 s). */
export const REVOKE_EXPIRES_MS = 3 * 60 * 60 * 1000;
/** Incremental refreshes re-read this far back, so ids merged with an older revoke time are not missed. */
const REFRESH_SLACK_MS = 5 * 60 * 1000;

export interface RevokedSetOptions {
  /**
   * A command connection (only non-blocking commands are sent on it; it may be shared). Null: no
   * Redis to share the ids through (an AMQP broker without a Redis result backend), so they live in
   * this process only (`start()` says so in the log).
   */
  redis: Redis | null;
  logger: Logger;
  /** kombu's `global_keyprefix`, applied to the shared key. */
  keyPrefix?: string;
  maxEntries?: number;
  expiresMs?: number;
  /** How often ids added by other nodes are read back from Redis; 0 turns it off. Default 10 s. */
  syncIntervalMs?: number;
}

/** Seconds on the clock Python's `time.monotonic()` reads on Linux (CLOCK_MONOTONIC, like hrtime). */
function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * Revoked task ids, bounded and expiring like Celery's `LimitedSet(maxlen=50000, expires=10800)`,
 * and shared by every Celeriac node through the sorted set `celeriac.revoked` (member = task id,
 * score = revoke time, ms): a worker that starts later loads it, so it still drops a revoked task.
 * `has()` is synchronous (an in-memory map) so the worker can check every message on its hot path.
 * Python workers cannot read the sorted set; they learn these ids through mingle (`hello`), which
 * the ControlServer answers from `mingleEntries()`.
 */
export class RevokedSet {
  private readonly entries = new Map<string, number>();
  private readonly key: string;
  private readonly max: number;
  private readonly expiresMs: number;
  private lastScore = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RevokedSetOptions) {
    this.key = revokedKey(options.keyPrefix);
    this.max = options.maxEntries ?? REVOKES_MAX;
    this.expiresMs = options.expiresMs ?? REVOKE_EXPIRES_MS;
  }

  /** Loads the shared set and starts the periodic refresh. */
  async start(): Promise<void> {
    if (this.options.redis === null) {
      this.options.logger.warn(
        { event: 'control.revoked_memory_only', shared: false },
        'No Redis to share revoked task ids through: revokes are kept in this worker only ' +
          '(broadcast revokes still reach it; a worker started later learns them through mingle)',
      );
      return;
    }
    const now = Date.now();
    const rows = await this.options.redis
      .multi()
      .zremrangebyscore(this.key, '-inf', now - this.expiresMs)
      .zrevrangebyscore(this.key, '+inf', now - this.expiresMs, 'WITHSCORES', 'LIMIT', 0, this.max)
      .exec();
    const flat = (rows?.[1]?.[1] as string[] | undefined) ?? [];
    const loaded: Array<[string, number]> = [];
    for (let i = flat.length - 2; i >= 0; i -= 2) loaded.push([flat[i]!, Number(flat[i + 1])]);
    this.remember(loaded);
    this.options.logger.info(
      { event: 'control.revoked_loaded', count: this.entries.size, key: this.key },
      'revoked task ids loaded',
    );
    const interval = this.options.syncIntervalMs ?? 10_000;
    if (interval > 0 && this.timer === undefined) {
      this.timer = setInterval(() => {
        this.refresh().catch((err: unknown) => {
          this.options.logger.warn({ event: 'control.revoked_sync_failed', err }, 'could not refresh revoked ids');
        });
      }, interval);
      this.timer.unref();
    }
  }

  /** Stops the periodic refresh; the in-memory ids stay readable. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether `id` is revoked (and not expired). */
  has(id: string): boolean {
    const at = this.entries.get(id);
    if (at === undefined) return false;
    if (at + this.expiresMs > Date.now()) return true;
    this.entries.delete(id);
    return false;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The ids, oldest first (`inspect revoked`). */
  ids(): string[] {
    this.purge(Date.now());
    return [...this.entries.keys()];
  }

  /** Revokes `ids` now: in memory at once, then in the shared set (the promise settles when stored). */
  add(ids: readonly string[], at = Date.now()): Promise<void> {
    return this.merge(ids.map((id) => [id, at] as [string, number]));
  }

  /** Adds `[id, revokedAtMs]` pairs, in memory and in the shared set. */
  async merge(pairs: ReadonlyArray<[string, number]>): Promise<void> {
    const fresh = pairs.filter(([, at]) => at + this.expiresMs > Date.now());
    if (fresh.length === 0) return;
    this.remember(fresh);
    if (this.options.redis === null) return;
    const now = Date.now();
    const args: Array<string | number> = [];
    for (const [id, at] of fresh) args.push(at, id);
    await this.options.redis
      .multi()
      .zadd(this.key, ...args)
      .zremrangebyscore(this.key, '-inf', now - this.expiresMs)
      .zremrangebyrank(this.key, 0, -(this.max + 1))
      .exec();
  }

  /** Reads back the ids other nodes added since the last read. */
  async refresh(): Promise<number> {
    if (this.options.redis === null) return 0;
    const since = Math.max(0, this.lastScore - REFRESH_SLACK_MS);
    const flat = await this.options.redis.zrangebyscore(this.key, since, '+inf', 'WITHSCORES', 'LIMIT', 0, this.max);
    const pairs: Array<[string, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (!this.entries.has(flat[i]!)) pairs.push([flat[i]!, Number(flat[i + 1])]);
    }
    this.remember(pairs);
    this.purge(Date.now());
    return pairs.length;
  }

  /**
   * The set as a mingle `hello` reply carries it: Celery's `LimitedSet._data`,
   * `{id: [monotonic_seconds, id]}` with a float timestamp on the receiver's `time.monotonic()`.
   */
  mingleEntries(): Record<string, [PyFloat, string]> {
    const now = Date.now();
    this.purge(now);
    const mono = monotonicSeconds();
    const out: Record<string, [PyFloat, string]> = {};
    for (const [id, at] of this.entries) out[id] = [pyFloat(mono - (now - at) / 1000), id];
    return out;
  }

  /**
   * Merges the `revoked` map of a mingle `hello` request or reply (`{id: ts}` or `{id: [ts, id]}`,
   * ts on the sender's monotonic clock). Times that cannot be placed count as "revoked now".
   */
  mergeMingle(revoked: unknown): Promise<void> {
    if (revoked === null || typeof revoked !== 'object' || Array.isArray(revoked)) return Promise.resolve();
    const now = Date.now();
    const mono = monotonicSeconds();
    const pairs: Array<[string, number]> = [];
    for (const [id, value] of Object.entries(revoked as Record<string, unknown>)) {
      const ts = Array.isArray(value) ? value[0] : value;
      const ageMs = typeof ts === 'number' && Number.isFinite(ts) ? (mono - ts) * 1000 : -1;
      if (ageMs >= this.expiresMs) continue;
      pairs.push([id, ageMs >= 0 ? now - ageMs : now]);
    }
    return this.merge(pairs);
  }

  private remember(pairs: ReadonlyArray<[string, number]>): void {
    for (const [id, at] of pairs) {
      // Re-inserting moves the id to the end, keeping the map in (roughly) revoke order.
      this.entries.delete(id);
      this.entries.set(id, at);
      if (at > this.lastScore) this.lastScore = at;
    }
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private purge(now: number): void {
    for (const [id, at] of this.entries) {
      if (at + this.expiresMs > now) break;
      this.entries.delete(id);
    }
  }
}
