import { raceTimeout } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { Delivery, WaitForOneOptions } from './broker-options.js';
import { scriptTagOf, tagOf } from './delivery-tag.js';
import { heldKey, inflightKey, UNACKED_INDEX_KEY, UNACKED_KEY } from './keys.js';
import type { BrokerScripts } from './scripts/load-scripts.js';

/** Unix time in seconds as kombu stores it in `unacked_index`. */
export function nowScore(): string {
  return String(Date.now() / 1000);
}

/** A priority sub-list that delivered within this long gets a blocking lane when one is free. */
const SUB_LIST_ACTIVE_MS = 60_000;
/** Longest wait for lanes that were told to stop blocking. */
const SETTLE_MS = 2_000;
/** With more queues than lanes, waits are cut to this, so the poll covers the others often enough. */
const UNCOVERED_WAIT_SEC = 0.2;

/** What the idle wait needs from the broker. */
export interface WaitContext {
  readonly url: string;
  readonly logger: Logger;
  readonly ownerId: string | undefined;
  /** The command connection; throws BrokerClosedError when the broker is not started. */
  commands(operation: string): Redis & BrokerScripts;
  /** The command connection whatever the state (closing steps), if there is one. */
  rawCommands(): (Redis & BrokerScripts) | undefined;
  closed(): boolean;
  listKeys(queue: string): string[];
  unackedTail(queue: string): string;
  wrap(operation: string, error: unknown): Error;
  coalesceWrites(): void;
  /** One non-blocking, atomic take over every list of `order` (fetch-batch.lua). */
  poll(order: readonly string[]): Promise<Delivery[]>;
  /** Records the queues whose in-flight lists the owner uses, before the first move from them. */
  register(queues: readonly string[]): Promise<void>;
  /** queue_order_strategy priority / sorted: the fixed reading order; null for round-robin (rotated after each delivery). */
  fixedOrder(queues: readonly string[]): string[] | null;
  /** kombu's global_keyprefix, given to the lanes' connections ('' = none). */
  keyPrefix: string;
}

interface Lane {
  readonly redis: Redis;
  id: number | undefined;
  pending: Promise<void> | null;
}

/**
 * The blocking pop of an idle consumer. With an owner id, every lane (a connection of its own)
 * waits in `BLMOVE <list> <owner's in-flight list>` on one list (the plain list of each queue,
 * then recently active priority sub-lists, at most `maxLanes`): Redis moves the entry atomically,
 * so a process killed at any instant leaves it in a queue or in its in-flight list, where restores
 * find it. The first lane that gets one wins; the others are unblocked and give back what they got.
 * Lists without a lane are covered by a non-blocking poll before every wait (every 0.2 s while
 * idle when there are more queues than lanes). Without an owner id,
 * kombu's BRPOP over every list (an entry popped for a process that just died is lost, as with kombu).
 */
export class BlockingWait {
  private readonly lanes: Lane[] = [];
  private order: string[] = [];
  /** queue_order_strategy priority / sorted: the order is not rotated. */
  private fixed = false;
  private readonly activeSubLists = new Map<string, { queue: string; at: number }>();
  /** Moved entries whose record failed: recorded again before the next ack/requeue/dead-letter. */
  private readonly unrecorded = new Map<string, { queue: string; list: string }>();
  private recoverNeeded = false;
  /** Give-backs under way, awaited by close(). */
  private readonly giving = new Set<Promise<unknown>>();

  constructor(
    private readonly ctx: WaitContext,
    private readonly maxLanes: number,
  ) {}

  /** Connects the first lane (as the broker starts). */
  async start(): Promise<void> {
    await this.addLane();
  }

  private async addLane(): Promise<Lane> {
    const index = this.lanes.length;
    const redis = createRedisConnection(
      this.ctx.url,
      index === 0 ? 'broker-blocking' : `broker-blocking-${index}`,
      this.ctx.logger,
    );
    if (this.ctx.keyPrefix !== '') redis.options.keyPrefix = this.ctx.keyPrefix;
    const lane: Lane = { redis, id: undefined, pending: null };
    redis.on('ready', () => {
      redis.client('ID').then(
        (id) => {
          lane.id = Number(id);
        },
        () => undefined,
      );
    });
    // A reply lost with the connection leaves the entry in our in-flight list: give it back later.
    redis.on('close', () => {
      if (lane.pending !== null) this.recoverNeeded = true;
    });
    this.lanes.push(lane);
    try {
      await redis.connect();
    } catch (error) {
      this.lanes.pop();
      redis.disconnect(false);
      throw error;
    }
    return lane;
  }

  /** Notes that a priority sub-list delivered, so that it gets a lane while one is free. */
  noteActive(key: string, queue: string, step: number): void {
    if (step > 0) this.activeSubLists.set(key, { queue, at: Date.now() });
  }

  /** Waits up to `timeoutSec` for one entry of `queues` (see the class comment); null on timeout or close. */
  async wait(queues: readonly string[], timeoutSec: number, options: WaitForOneOptions): Promise<Delivery | null> {
    if (queues.length === 0) return null;
    this.ctx.commands('waitForOne');
    const fixed = this.ctx.fixedOrder(queues);
    this.fixed = fixed !== null;
    const same = this.order.length === queues.length && queues.every((q) => this.order.includes(q));
    if (fixed !== null) this.order = fixed;
    else if (!same) this.order = queues.slice();
    const order = this.order;
    if (this.ctx.ownerId === undefined) return this.waitBrpop(order, timeoutSec, options);
    await this.settle();
    if (this.recoverNeeded) await this.recover();
    await this.ctx.register(order);
    const [polled] = await this.ctx.poll(order);
    if (polled) {
      this.rotate(polled.queue);
      return polled;
    }
    if (this.ctx.closed()) return null;
    return this.waitMoved(order, this.ctx.ownerId, timeoutSec, options);
  }

  /** kombu rotates the queue that delivered to the end of the cycle. */
  private rotate(queue: string): void {
    if (this.fixed) return;
    this.order = [...this.order.filter((q) => q !== queue), queue];
  }

  private targets(order: readonly string[]): { key: string; queue: string }[] {
    const targets = order.slice(0, this.maxLanes).map((queue) => ({ key: this.ctx.listKeys(queue)[0]!, queue }));
    const now = Date.now();
    for (const [key, sub] of this.activeSubLists) {
      if (now - sub.at > SUB_LIST_ACTIVE_MS) this.activeSubLists.delete(key);
      else if (targets.length < this.maxLanes && order.includes(sub.queue)) targets.push({ key, queue: sub.queue });
    }
    return targets;
  }

  private async waitMoved(
    order: readonly string[],
    ownerId: string,
    timeoutSec: number,
    options: WaitForOneOptions,
  ): Promise<Delivery | null> {
    const targets = this.targets(order);
    while (this.lanes.length < targets.length) await this.addLane();
    const waitSec = Math.max(0, order.length > this.maxLanes ? Math.min(timeoutSec, UNCOVERED_WAIT_SEC) : timeoutSec);
    return new Promise<Delivery | null>((resolve, reject) => {
      let winner = false;
      let left = targets.length;
      let failure: unknown;
      targets.forEach((target, i) => {
        const lane = this.lanes[i]!;
        const list = inflightKey(ownerId, target.queue);
        const pending = lane.redis.blmove(target.key, list, 'RIGHT', 'LEFT', waitSec).then(
          (raw) => {
            if (raw === null) return;
            if (winner || this.ctx.closed()) {
              this.giveBack(list, target.key, raw);
              return;
            }
            winner = true;
            this.rotate(target.queue);
            this.unblock(lane);
            resolve(this.recordMoved(target.queue, list, raw, options.awaitRecord !== false));
          },
          (error: unknown) => {
            this.recoverNeeded = true;
            failure ??= error;
          },
        );
        const settled: Promise<void> = pending.finally(() => {
          if (lane.pending === settled) lane.pending = null;
          if (--left === 0 && !winner) {
            if (failure !== undefined && !this.ctx.closed()) reject(this.ctx.wrap('waitForOne', failure));
            else resolve(null);
          }
        });
        lane.pending = settled;
      });
    });
  }

  /** Tells every other blocked lane to stop (CLIENT UNBLOCK: its pop ends as a timeout). */
  private unblock(except?: Lane): void {
    const commands = this.ctx.commands('waitForOne');
    for (const lane of this.lanes) {
      if (lane !== except && lane.pending !== null && lane.id !== undefined) {
        commands.client('UNBLOCK', lane.id).catch(() => undefined);
      }
    }
  }

  /** Waits until no lane blocks any more (unblocking them again if needed). */
  private async settle(): Promise<void> {
    const pending = this.lanes.map((lane) => lane.pending).filter((p) => p !== null);
    if (pending.length === 0) return;
    if (this.ctx.commands('waitForOne').status === 'ready') this.unblock();
    await raceTimeout(Promise.allSettled(pending), SETTLE_MS);
  }

  private recordMoved(
    queue: string,
    list: string,
    raw: string,
    awaitRecord: boolean,
  ): Promise<Delivery | null> | Delivery {
    const redis = this.ctx.commands('waitForOne');
    const ownerId = this.ctx.ownerId!;
    const tag = scriptTagOf(raw);
    const record = redis
      .recordMoved(
        4,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        heldKey(ownerId),
        list,
        raw,
        nowScore(),
        this.ctx.unackedTail(queue),
      )
      .then(
        (recorded): Delivery | null => {
          if (recorded !== null) return { raw, queue, deliveryTag: recorded };
          this.ctx.logger.warn(
            { event: 'broker.inflight_restored_elsewhere', queue, delivery_tag: tag },
            'an entry this consumer took was restored by another (its lease had expired); it may run twice',
          );
          return null;
        },
        (error: unknown): Delivery => {
          this.unrecorded.set(raw, { queue, list });
          this.ctx.logger.warn(
            { event: 'broker.record_failed', queue, err: this.ctx.wrap('waitForOne', error) },
            'could not record a moved entry as unacked; it stays in the in-flight list and is recorded again before the next ack',
          );
          return { raw, queue, deliveryTag: tag !== '' ? tag : tagOf(raw) };
        },
      );
    if (!awaitRecord && tag !== '') {
      this.ctx.coalesceWrites();
      void record;
      return { raw, queue, deliveryTag: tag };
    }
    return record;
  }

  /** Records again what failed to record (queued on the command connection ahead of the caller's step). */
  flushUnrecorded(redis: Redis & BrokerScripts): void {
    if (this.unrecorded.size === 0) return;
    const held = heldKey(this.ctx.ownerId!);
    for (const [raw, { queue, list }] of this.unrecorded) {
      this.unrecorded.delete(raw);
      redis
        .recordMoved(4, UNACKED_KEY, UNACKED_INDEX_KEY, held, list, raw, nowScore(), this.ctx.unackedTail(queue))
        .catch(() => this.unrecorded.set(raw, { queue, list }));
    }
  }

  private giveBack(list: string, sourceKey: string, raw: string): void {
    const redis = this.ctx.rawCommands();
    if (!redis) return;
    const work = redis.returnMoved(2, list, sourceKey, raw).catch((err: unknown) => {
      this.ctx.logger.error(
        { event: 'broker.hand_back_failed', queue: sourceKey, err },
        'could not give back an entry taken by a second lane; it returns when this consumer is restored',
      );
    });
    this.giving.add(work);
    void work.finally(() => this.giving.delete(work));
  }

  /** Gives back whatever sits in our in-flight lists (replies lost with a connection). */
  private async recover(): Promise<void> {
    this.recoverNeeded = false;
    const redis = this.ctx.commands('waitForOne');
    for (const queue of this.order) {
      const list = inflightKey(this.ctx.ownerId!, queue);
      const raws = (await redis.lrange(list, 0, -1)).filter((raw) => !this.unrecorded.has(raw));
      if (raws.length > 0) await redis.returnMoved(2, list, this.ctx.listKeys(queue)[0]!, ...raws);
    }
  }

  /** kombu's BRPOP over every list (priority step first, then queue), then the unacked record. */
  private waitBrpop(order: string[], timeoutSec: number, options: WaitForOneOptions): Promise<Delivery | null> {
    const lane = this.lanes[0]!;
    const keys: string[] = [];
    const queueOfKey = new Map<string, string>();
    const steps = order.length > 0 ? this.ctx.listKeys(order[0]!).length : 0;
    for (let step = 0; step < steps; step++) {
      for (const queue of order) {
        const key = this.ctx.listKeys(queue)[step]!;
        keys.push(key);
        queueOfKey.set(key, queue);
      }
    }
    const work = (async (): Promise<Delivery | null> => {
      let reply: [string, string] | null;
      try {
        reply = await lane.redis.brpop(...keys, Math.max(0, timeoutSec));
      } catch (error) {
        if (this.ctx.closed()) return null;
        throw this.ctx.wrap('waitForOne', error);
      }
      if (!reply) return null;
      const [replyKey, raw] = reply;
      // BRPOP names the list with the connection's key prefix; commands take it without.
      const prefix = this.ctx.keyPrefix;
      const key = prefix !== '' && replyKey.startsWith(prefix) ? replyKey.slice(prefix.length) : replyKey;
      const queue = queueOfKey.get(key) ?? key;
      this.rotate(queue);
      if (options.awaitRecord === false && !this.ctx.closed()) {
        const tag = scriptTagOf(raw);
        if (tag !== '') {
          this.ctx.coalesceWrites();
          void this.recordPopped(key, queue, raw);
          return { raw, queue, deliveryTag: tag };
        }
      }
      return this.recordPopped(key, queue, raw);
    })();
    // close() waits for this, including a hand-back of what the pop got during close.
    const settled: Promise<void> = work.then(
      () => undefined,
      () => undefined,
    );
    lane.pending = settled;
    void settled.then(() => {
      if (lane.pending === settled) lane.pending = null;
    });
    return work;
  }

  private async recordPopped(key: string, queue: string, raw: string): Promise<Delivery | null> {
    const redis = this.ctx.rawCommands()!;
    if (this.ctx.closed()) {
      // Closing: hand the entry straight back instead of holding it.
      await redis.rpush(key, raw).catch((err: unknown) => {
        this.ctx.logger.error(
          { event: 'broker.hand_back_failed', queue, err },
          'could not hand back an entry popped during close',
        );
      });
      return null;
    }
    try {
      const tag = await redis.recordDelivery(
        3,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        UNACKED_INDEX_KEY,
        raw,
        nowScore(),
        '0',
        this.ctx.unackedTail(queue),
      );
      return { raw, queue, deliveryTag: tag };
    } catch (error) {
      // The entry is already popped: deliver it unrecorded rather than lose it.
      this.ctx.logger.warn(
        { event: 'broker.record_failed', queue, err: this.ctx.wrap('waitForOne', error) },
        'could not record a popped entry as unacked; delivering it without a visibility-timeout safety net',
      );
      return { raw, queue, deliveryTag: tagOf(raw) };
    }
  }

  /**
   * Ends pending pops (CLIENT UNBLOCK: a pop that got an entry meanwhile gives it back) and
   * disconnects the lanes. Call it while the command connection is still open.
   */
  async close(): Promise<void> {
    const pending = this.lanes.map((lane) => lane.pending).filter((p) => p !== null);
    const commands = this.ctx.rawCommands();
    if (pending.length > 0 && commands?.status === 'ready') {
      await Promise.all(
        this.lanes
          .filter((lane) => lane.pending !== null && lane.id !== undefined)
          .map((lane) => commands.client('UNBLOCK', lane.id!).catch(() => undefined)),
      );
      await raceTimeout(Promise.allSettled(pending), SETTLE_MS);
    }
    await raceTimeout(Promise.allSettled([...this.giving]), SETTLE_MS);
    for (const lane of this.lanes) lane.redis.disconnect(false);
  }
}
