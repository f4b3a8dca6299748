import { randomUUID } from 'node:crypto';
import type { Logger } from '@celeriac/logger';
import { markRedelivered } from '@celeriac/protocol';
import type { Redis } from 'ioredis';
import { exchangeBindingKey, matchingQueues, parseBindingMember } from './exchange-bindings.js';
import {
  heldKey,
  inflightKey,
  leaseKey,
  OWNERS_KEY,
  priorityListKey,
  REDELIVERIES_PREFIX,
  REDELIVERY_LIMIT_KEY,
  startedKey,
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
  /** Restores a message may have before it goes to the redelivery-limit list (0 = no limit). */
  readonly redeliveryLimit: number;
  /** TTL of a redelivery counter, ms. */
  readonly redeliveryCountTtlMs: number;
  /** kombu's `sep` inside binding members. */
  readonly sep: string;
  /** Runs one Redis step, turning its failure into a BrokerError. */
  run<T>(operation: string, fn: () => Promise<T>): Promise<T>;
}

/** What one restore did. */
interface Tally {
  pushed: number;
  limited: number;
  /** Left in place: unreadable, or held by a live owner. */
  left: number;
}

/** What an owner registered in `celeriac.owners`: its queues (in-flight lists) and its redelivery limit. */
interface Registration {
  queues: string[];
  redeliveryLimit: number | undefined;
}

function registration(value: string | null | undefined): Registration {
  try {
    const v = JSON.parse(value ?? '{}') as { queues?: unknown; redelivery_limit?: unknown };
    const queues = Array.isArray(v.queues)
      ? v.queues.filter((q): q is string => typeof q === 'string' && q !== '')
      : [];
    const limit = v.redelivery_limit;
    return { queues, redeliveryLimit: typeof limit === 'number' && limit >= 0 ? limit : undefined };
  } catch {
    return { queues: [], redeliveryLimit: undefined };
  }
}

/**
 * The visibility-timeout restore, under kombu's `unacked_mutex` (SET NX PX 300000, released with a
 * compare-and-delete). Owners in `celeriac.owners` whose lease expired are dead: their in-flight
 * lists go back at once, their held tags once older than the timeout. Then, as kombu does, every
 * entry delivered more than `visibilityTimeoutMs` ago goes back with the redelivered flags, except
 * tags a live owner holds. Returns the number put back on queues (0 when another consumer holds the lock).
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
    const ceilSec = Date.now() / 1000 - visibilityTimeoutMs / 1000;
    const total: Tally = { pushed: 0, limited: 0, left: 0 };
    const owners = await ctx.run(operation, () => redis.hgetall(OWNERS_KEY));
    const ids = Object.keys(owners);
    const leases = ids.length > 0 ? await ctx.run(operation, () => redis.mget(ids.map(leaseKey))) : [];
    const live: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (leases[i] !== null) live.push(heldKey(id));
      else add(total, await restoreDeadOwner(ctx, id, registration(owners[id]), ceilSec));
    }
    let skip = 0;
    for (;;) {
      const flat = await ctx.run(operation, () =>
        redis.zrevrangebyscore(UNACKED_INDEX_KEY, String(ceilSec), 0, 'WITHSCORES', 'LIMIT', skip, RESTORE_CHUNK),
      );
      if (flat.length === 0) break;
      const tags: string[] = [];
      const scores: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        tags.push(flat[i]!);
        scores.push(flat[i + 1]!);
      }
      const result = await restoreTags(ctx, tags, scores, undefined, live, operation);
      add(total, result);
      skip += result.left;
      if (tags.length < RESTORE_CHUNK) break;
    }
    logRestored(ctx, total, { reason: 'visibility_timeout', visibility_timeout_ms: visibilityTimeoutMs });
    return total.pushed;
  } finally {
    await redis.releaseMutex(1, UNACKED_MUTEX_KEY, token).catch(() => undefined);
  }
}

/**
 * Puts back everything a (dead) consumer recorded under `ownerId` that it still held, and what its
 * blocking pop had moved into its in-flight lists, with the redelivered flags; drops its lease and
 * registry entry. A tag delivered again to someone else since is left alone. Returns the number put
 * back on queues (those past the redelivery limit go to the redelivery-limit list instead).
 */
export async function restoreOwner(ctx: RestoreContext, ownerId: string): Promise<number> {
  const registry = await ctx.run('restoreOwner', () => ctx.redis.hget(OWNERS_KEY, ownerId));
  const total = await restoreDeadOwner(ctx, ownerId, registration(registry), Number.POSITIVE_INFINITY);
  await ctx.run('restoreOwner', () =>
    ctx.redis.multi().del(leaseKey(ownerId), startedKey(ownerId)).hdel(OWNERS_KEY, ownerId).exec(),
  );
  logRestored(ctx, total, { reason: 'owner', owner_id: ownerId });
  return total.pushed;
}

/**
 * A dead owner's in-flight lists, then its held tags delivered before `ceilSec`, under the
 * owner's own redelivery limit (whoever restores); forgets it once empty.
 */
async function restoreDeadOwner(ctx: RestoreContext, ownerId: string, reg: Registration, ceilSec: number) {
  const operation = 'restoreOwner';
  const { queues } = reg;
  const limit = reg.redeliveryLimit ?? ctx.redeliveryLimit;
  const total: Tally = { pushed: 0, limited: 0, left: 0 };
  for (const queue of queues) add(total, await restoreInflight(ctx, inflightKey(ownerId, queue), queue));
  const key = heldKey(ownerId);
  const held = await ctx.run(operation, () => ctx.redis.hgetall(key));
  const tags = Object.keys(held).filter((tag) => Number(held[tag]) <= ceilSec);
  for (let start = 0; start < tags.length; start += RESTORE_CHUNK) {
    const chunk = tags.slice(start, start + RESTORE_CHUNK);
    const scores = chunk.map((tag) => held[tag]!);
    add(total, await restoreTags(ctx, chunk, scores, ownerId, [], operation, limit));
  }
  if (Number.isFinite(ceilSec)) {
    const lists = queues.map((q) => inflightKey(ownerId, q));
    const keys = [leaseKey(ownerId), key, OWNERS_KEY, startedKey(ownerId), ...lists];
    await ctx.run(operation, () => ctx.redis.releaseOwner(keys.length, ...keys, ownerId));
  }
  return total;
}

/** Drains one in-flight list of a dead owner back onto its queue (never started there: not counted). */
async function restoreInflight(ctx: RestoreContext, listKey: string, queue: string): Promise<Tally> {
  const total: Tally = { pushed: 0, limited: 0, left: 0 };
  const raws = await ctx.run('restoreOwner', () => ctx.redis.lrange(listKey, 0, -1));
  for (let start = 0; start < raws.length; start += RESTORE_CHUNK) {
    const args: string[] = [];
    for (const raw of raws.slice(start, start + RESTORE_CHUNK)) args.push(raw, markRedelivered(raw));
    total.pushed += await ctx.run('restoreOwner', () =>
      ctx.redis.restoreInflight(2, listKey, priorityListKey(queue), ...args),
    );
  }
  return total;
}

/** Reads the unacked values of `tags` and runs the restore script for them. */
async function restoreTags(
  ctx: RestoreContext,
  tags: string[],
  seenScores: string[],
  ownerId: string | undefined,
  guards: string[],
  operation: string,
  limit = ctx.redeliveryLimit,
): Promise<Tally> {
  const { redis } = ctx;
  const values = await ctx.run(operation, () => redis.hmget(UNACKED_KEY, ...tags));
  const [held, started] = ownerId ? [heldKey(ownerId), startedKey(ownerId)] : [UNACKED_INDEX_KEY, UNACKED_INDEX_KEY];
  const keys = [UNACKED_KEY, UNACKED_INDEX_KEY, held, REDELIVERY_LIMIT_KEY, started, ...guards];
  const args = [
    ownerId ? '1' : '0',
    String(limit),
    (redis.options.keyPrefix ?? '') + REDELIVERIES_PREFIX,
    String(ctx.redeliveryCountTtlMs),
    String(guards.length),
  ];
  let unreadable = 0;
  const routed = new Map<string, string>();
  for (let i = 0; i < tags.length; i++) {
    const value = values[i];
    const entry = value == null ? null : restorableFromUnacked(value);
    // kombu records [envelope, exchange, routing_key] and restores through the exchange: a
    // routing key such as `media.video` is no list name. Go back to the queue the binding names.
    if (entry && entry.exchange !== '') entry.queue = await boundQueue(ctx, entry.exchange, entry.queue, routed);
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
    keys.push(entry ? entry.queue : UNACKED_KEY);
    args.push(tags[i]!, seenScores[i]!, entry ? entry.raw : '');
  }
  const [pushed, limited, guarded] = await ctx.run(operation, () => redis.restoreTags(keys.length, ...keys, ...args));
  return { pushed, limited, left: unreadable + guarded };
}

/**
 * The queue a message published to a named exchange with `routingKey` came from: the first binding
 * of `_kombu.binding.<exchange>` with that routing key, else the first whose topic pattern matches
 * (the restore does not know the exchange's type; kombu's restore goes through the exchange again).
 * With no binding, the routing key itself (what kombu's restore of an unbound exchange cannot do either).
 */
async function boundQueue(
  ctx: RestoreContext,
  exchange: string,
  routingKey: string,
  cache: Map<string, string>,
): Promise<string> {
  const id = exchange + '\0' + routingKey;
  const known = cache.get(id);
  if (known !== undefined) return known;
  const raw = await ctx.run('restore', () => ctx.redis.smembers(exchangeBindingKey(exchange)));
  const members = raw.flatMap((m) => parseBindingMember(m, ctx.sep) ?? []);
  const queue =
    matchingQueues('direct', members, routingKey)[0] ??
    matchingQueues(
      'topic',
      members.filter((m) => m.pattern !== ''),
      routingKey,
    )[0] ??
    routingKey;
  cache.set(id, queue);
  return queue;
}

function add(total: Tally, part: Tally): void {
  total.pushed += part.pushed;
  total.limited += part.limited;
  total.left += part.left;
}

function logRestored(ctx: RestoreContext, total: Tally, fields: Record<string, unknown>): void {
  if (total.pushed > 0 || total.limited > 0) {
    ctx.logger.info(
      { event: 'broker.restored', ...fields, restored: total.pushed, redelivery_limited: total.limited },
      total.limited > 0
        ? 'restored entries; some were past the redelivery limit and wait to be dead-lettered'
        : `restored entries (${String(fields.reason).replace('_', ' ')})`,
    );
  }
}
