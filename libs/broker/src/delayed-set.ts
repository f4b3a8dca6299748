import type { ChainableCommander, Redis } from 'ioredis';
import { nowScore } from './blocking-wait.js';
import type { Delivery, DroppedDelayed, LimitedDelivery } from './broker-options.js';
import { DELAYED_KEY, delayedMember, REDELIVERY_LIMIT_KEY, UNACKED_INDEX_KEY, UNACKED_KEY } from './keys.js';
import type { BrokerScripts } from './scripts/load-scripts.js';

/** A held entry to move to the delayed set (its eta is beyond the worker's horizon). */
export interface DeferItem {
  delivery: Delivery;
  taskId: string;
  /** Due time, epoch ms. */
  dueMs: number;
}

/** The command connection and the owner hash (if any) of the broker. */
export interface DelayedContext {
  redis: Redis & BrokerScripts;
  held: string | undefined;
}

/** Entries per defer call. */
const DEFER_CHUNK = 500;

/** defer.lua over `items`, in chunks; returns the number moved. */
export async function deferEntries(ctx: DelayedContext, items: readonly DeferItem[]): Promise<number> {
  const { redis, held } = ctx;
  let moved = 0;
  for (let start = 0; start < items.length; start += DEFER_CHUNK) {
    const args = [held ? '1' : '0'];
    for (const { delivery, taskId, dueMs } of items.slice(start, start + DEFER_CHUNK)) {
      args.push(delivery.deliveryTag, String(Math.floor(dueMs)), delayedMember(delivery.queue, taskId, delivery.raw));
    }
    moved += await redis.defer(4, UNACKED_KEY, UNACKED_INDEX_KEY, held ?? UNACKED_INDEX_KEY, DELAYED_KEY, ...args);
  }
  return moved;
}

/** A delayed entry to give a new due time; it keeps its place only if it is still in the set. */
export interface RescheduleItem {
  delivery: Delivery;
  taskId: string;
  /** New due time, epoch ms. */
  dueMs: number;
}

/**
 * New due times for entries of the delayed set (ZADD XX: an entry already promoted or dropped is
 * not added back). Returns how many changed.
 */
export async function rescheduleEntries(ctx: DelayedContext, items: readonly RescheduleItem[]): Promise<number> {
  const zadd = ctx.redis.zadd.bind(ctx.redis) as (key: string, ...args: string[]) => Promise<number>;
  let changed = 0;
  for (let start = 0; start < items.length; start += DEFER_CHUNK) {
    const args: string[] = [];
    for (const { delivery, taskId, dueMs } of items.slice(start, start + DEFER_CHUNK)) {
      args.push(String(Math.floor(dueMs)), delayedMember(delivery.queue, taskId, delivery.raw));
    }
    changed += await zadd(DELAYED_KEY, 'XX', 'CH', ...args);
  }
  return changed;
}

/**
 * promote-due.lua: due entries back to their queues; revoked ones (with the hook) returned. In the
 * same round trip (one pipeline) it peeks at what is left, so that an idle worker can sleep until
 * there is work: `nextDueInMs`, how long until the earliest remaining entry is due by Redis `TIME`
 * (0 when due already; null when the set is empty), and `limited`, the length of the
 * redelivery-limit list (`takeRedeliveryLimited` is only worth a call when it is above 0).
 */
export async function promoteDue(
  ctx: DelayedContext,
  limit: number,
  revokedKey: string | undefined,
): Promise<{ promoted: number; dropped: DroppedDelayed[]; nextDueInMs: number | null; limited: number }> {
  // Scripts defined with defineCommand exist on pipelines too; ioredis' types only list them on the client.
  const pipeline = ctx.redis.pipeline() as ChainableCommander & {
    promoteDue(numKeys: number, ...keysAndArgs: string[]): ChainableCommander;
  };
  const replies = await pipeline
    .promoteDue(
      2,
      DELAYED_KEY,
      revokedKey ?? DELAYED_KEY,
      String(Math.max(1, Math.floor(limit))),
      revokedKey !== undefined ? '1' : '0',
      // kombu's global_keyprefix: the members name queues without it.
      ctx.redis.options.keyPrefix ?? '',
    )
    .zrange(DELAYED_KEY, 0, 0, 'WITHSCORES')
    .llen(REDELIVERY_LIMIT_KEY)
    .time()
    .exec();
  const failed = replies?.find(([error]: [Error | null, unknown]) => error !== null);
  if (!replies || failed) throw failed?.[0] ?? new Error('promoteDue: no reply');
  const reply = replies[0]?.[1] as unknown[];
  const first = replies[1]?.[1] as string[];
  const time = replies[3]?.[1] as [string, string];
  const dropped: DroppedDelayed[] = [];
  for (let i = 1; i + 2 < reply.length; i += 3) {
    dropped.push({ taskId: String(reply[i]), queue: String(reply[i + 1]), raw: String(reply[i + 2]) });
  }
  const nowMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const nextDueInMs = first.length >= 2 ? Math.max(0, Number(first[1]) - nowMs) : null;
  return { promoted: Number(reply[0]), dropped, nextDueInMs, limited: Number(replies[2]?.[1] ?? 0) };
}

/** take-limited.lua: entries past the redelivery limit, recorded as held by this consumer. */
export async function takeRedeliveryLimited(ctx: DelayedContext, max: number): Promise<LimitedDelivery[]> {
  const { redis, held } = ctx;
  const reply = await redis.takeLimited(
    4,
    UNACKED_KEY,
    UNACKED_INDEX_KEY,
    held ?? UNACKED_INDEX_KEY,
    REDELIVERY_LIMIT_KEY,
    String(Math.max(1, Math.floor(max))),
    nowScore(),
    held ? '1' : '0',
  );
  const out: LimitedDelivery[] = [];
  const prefix = redis.options.keyPrefix ?? '';
  for (let i = 0; i + 3 < reply.length; i += 4) {
    // The entry names the queue list as the script saw it: with the connection's key prefix.
    const listKey = reply[i + 2]!;
    const queue = prefix !== '' && listKey.startsWith(prefix) ? listKey.slice(prefix.length) : listKey;
    out.push({ raw: reply[i]!, deliveryTag: reply[i + 1]!, queue, redeliveries: Number(reply[i + 3]) });
  }
  return out;
}
