import type { RedisStore } from '../store/redis-store.js';
import type { RolloutRecord } from './rollout-record.js';
import type { QueuedRolloutCommand, RolloutCommandResult, RolloutStore } from './rollout-store.js';

/** How long a queued command's answer is kept for the replica waiting for it. */
const RESULT_TTL_MS = 60_000;

/**
 * Rollout records in the Redis store that center replicas share: one replica at a time holds the
 * lease (SET NX PX, renewed) and drives every rollout; its saves are fenced by the lease token in
 * Lua; the others read the records to serve each node what its wave allows, and queue operators'
 * commands for the holder (redis-store.ts, redis-scripts.ts).
 */
export class RolloutRedisStore implements RolloutStore {
  readonly shared = true;

  constructor(private readonly redis: RedisStore) {}

  get description(): string {
    return `redis ${this.redis.description}`;
  }

  async load(): Promise<RolloutRecord[]> {
    const { records } = await this.redis.readRollouts();
    if (records === null) return [];
    const parsed = JSON.parse(records) as { rollouts?: RolloutRecord[] };
    return Array.isArray(parsed.rollouts) ? parsed.rollouts : [];
  }

  version(): Promise<number> {
    return this.redis.rolloutsVersion();
  }

  save(records: readonly RolloutRecord[], lease: string): Promise<boolean> {
    return this.redis.writeRollouts(lease, JSON.stringify({ rollouts: records }));
  }

  acquireLease(lease: string, ttlMs: number): Promise<boolean> {
    return this.redis.acquireRolloutLease(lease, ttlMs);
  }

  releaseLease(lease: string): Promise<void> {
    return this.redis.releaseRolloutLease(lease);
  }

  onChange(listener: () => void): void {
    this.redis.onRolloutChange(listener);
  }

  queueCommand(command: QueuedRolloutCommand): Promise<void> {
    return this.redis.queueRolloutCommand(JSON.stringify(command));
  }

  async takeCommands(lease: string): Promise<QueuedRolloutCommand[]> {
    return (await this.redis.takeRolloutCommands(lease)).map((raw) => JSON.parse(raw) as QueuedRolloutCommand);
  }

  putResult(id: string, result: RolloutCommandResult): Promise<void> {
    return this.redis.putRolloutResult(id, JSON.stringify(result), RESULT_TTL_MS);
  }

  async takeResult(id: string): Promise<RolloutCommandResult | undefined> {
    const raw = await this.redis.takeRolloutResult(id);
    return raw === null ? undefined : (JSON.parse(raw) as RolloutCommandResult);
  }
}
