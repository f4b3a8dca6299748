import { randomUUID } from 'node:crypto';
import type { Logger } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import {
  heldKey,
  priorityListKey,
  UNACKED_INDEX_KEY,
  UNACKED_KEY,
  UNACKED_MUTEX_EXPIRE_MS,
  UNACKED_MUTEX_KEY,
} from './keys.js';
import type { BrokerScripts } from './scripts/load-scripts.js';
import { restorableFromUnacked } from './unacked-value.js';

/** Entries per script call for requeue and restores, to keep each call short. */
export const RESTORE_CHUNK = 500;

/** What a restore needs from the broker: its command connection, its logger and its error wrapping. */
export interface RestoreContext {
  readonly redis: Redis & BrokerScripts;
  readonly logger: Logger;
  /** Runs one Redis step, turning its failure into a BrokerError. */
  run<T>(operation: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * kombu's visibility-timeout restore: under `unacked_mutex` (SET NX PX 300000), every entry
 * delivered more than `visibilityTimeoutMs` ago goes back onto its queue with RPUSH and the
 * redelivered flags; the lock is released with a compare-and-delete. Returns the number restored
 * (0 when another consumer holds the lock).
 */
export async function restoreVisibilityTimeout(ctx: RestoreContext, visibilityTimeoutMs: number): Promise<number> {
  const { redis } = ctx;
  const operation = 'restoreVisibilityTimeout';
  const token = randomUUID().replaceAll('-', '');
  const locked = await ctx.run(operation, () =>
    redis.set(UNACKED_MUTEX_KEY, token, 'PX', UNACKED_MUTEX_EXPIRE_MS, 'NX'),
  );
  if (locked !== 'OK') return 0;
  try {
    const ceil = String(Date.now() / 1000 - visibilityTimeoutMs / 1000);
    let restored = 0;
    let skip = 0;
    for (;;) {
      const flat = await ctx.run(operation, () =>
        redis.zrevrangebyscore(UNACKED_INDEX_KEY, ceil, 0, 'WITHSCORES', 'LIMIT', skip, RESTORE_CHUNK),
      );
      if (flat.length === 0) break;
      const tags: string[] = [];
      const scores: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        tags.push(flat[i]!);
        scores.push(flat[i + 1]!);
      }
      const result = await restoreTags(ctx, tags, scores, undefined, operation);
      restored += result.pushed;
      skip += result.unreadable;
      if (tags.length < RESTORE_CHUNK) break;
    }
    if (restored > 0) {
      ctx.logger.info(
        {
          event: 'broker.restored',
          reason: 'visibility_timeout',
          restored,
          visibility_timeout_ms: visibilityTimeoutMs,
        },
        'restored entries past the visibility timeout',
      );
    }
    return restored;
  } finally {
    await redis.releaseMutex(1, UNACKED_MUTEX_KEY, token).catch(() => undefined);
  }
}

/**
 * Puts back everything a (dead) consumer recorded under `ownerId` that it still held, with the
 * redelivered flags, and empties its owner hash. A tag delivered again to someone else since is
 * left alone. Returns the number restored.
 */
export async function restoreOwner(ctx: RestoreContext, ownerId: string): Promise<number> {
  const key = heldKey(ownerId);
  const held = await ctx.run('restoreOwner', () => ctx.redis.hgetall(key));
  const tags = Object.keys(held);
  let restored = 0;
  for (let start = 0; start < tags.length; start += RESTORE_CHUNK) {
    const chunk = tags.slice(start, start + RESTORE_CHUNK);
    const scores = chunk.map((tag) => held[tag]!);
    restored += (await restoreTags(ctx, chunk, scores, key, 'restoreOwner')).pushed;
  }
  if (restored > 0) {
    ctx.logger.info(
      { event: 'broker.restored', reason: 'owner', owner_id: ownerId, restored },
      'restored entries held by a consumer',
    );
  }
  return restored;
}

/** Reads the unacked values of `tags` and runs the restore script for them. */
async function restoreTags(
  ctx: RestoreContext,
  tags: string[],
  seenScores: string[],
  ownerKey: string | undefined,
  operation: string,
): Promise<{ pushed: number; unreadable: number }> {
  const { redis } = ctx;
  const values = await ctx.run(operation, () => redis.hmget(UNACKED_KEY, ...tags));
  const keys = [UNACKED_KEY, UNACKED_INDEX_KEY, ownerKey ?? UNACKED_INDEX_KEY];
  const args = [ownerKey ? '1' : '0'];
  let unreadable = 0;
  for (let i = 0; i < tags.length; i++) {
    const value = values[i];
    const entry = value == null ? null : restorableFromUnacked(value);
    if (value != null && !entry) {
      unreadable++;
      ctx.logger.error(
        { event: 'broker.unacked_unreadable', delivery_tag: tags[i] },
        'unacked entry cannot be read (not [envelope, exchange, routing_key]); left in place',
      );
      keys.push(UNACKED_KEY);
      args.push(tags[i]!, '', '');
      continue;
    }
    // A missing value with a score is a stale index entry: the script only removes it.
    keys.push(entry ? priorityListKey(entry.queue) : UNACKED_KEY);
    args.push(tags[i]!, seenScores[i]!, entry ? entry.raw : '');
  }
  const pushed = await ctx.run(operation, () => redis.restoreTags(keys.length, ...keys, ...args));
  return { pushed, unreadable };
}
