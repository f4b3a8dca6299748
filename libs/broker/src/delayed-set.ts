import type { Redis } from 'ioredis';
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

/** promote-due.lua: due entries back to their queues; revoked ones (with the hook) returned. */
export async function promoteDue(
  ctx: DelayedContext,
  limit: number,
  revokedKey: string | undefined,
): Promise<{ promoted: number; dropped: DroppedDelayed[] }> {
  const reply = await ctx.redis.promoteDue(
    2,
    DELAYED_KEY,
    revokedKey ?? DELAYED_KEY,
    String(Math.max(1, Math.floor(limit))),
    revokedKey !== undefined ? '1' : '0',
  );
  const dropped: DroppedDelayed[] = [];
  for (let i = 1; i + 2 < reply.length; i += 3) {
    dropped.push({ taskId: String(reply[i]), queue: String(reply[i + 1]), raw: String(reply[i + 2]) });
  }
  return { promoted: Number(reply[0]), dropped };
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
  for (let i = 0; i + 3 < reply.length; i += 4) {
    out.push({ raw: reply[i]!, deliveryTag: reply[i + 1]!, queue: reply[i + 2]!, redeliveries: Number(reply[i + 3]) });
  }
  return out;
}
