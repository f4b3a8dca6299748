import { raceTimeout } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { markRedelivered } from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { BrokerOptions, Delivery, WaitForOneOptions } from './broker-options.js';
import { scriptTagOf, tagOf } from './delivery-tag.js';
import {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerUnavailableError,
  isReplyError,
} from './errors.js';
import {
  bindingKey,
  bindingMember,
  DEFAULT_DEAD_LETTER_KEY,
  heldKey,
  PRIORITY_STEPS,
  priorityListKey,
  UNACKED_INDEX_KEY,
  UNACKED_KEY,
} from './keys.js';
import { QueueCycle } from './queue-cycle.js';
import { RESTORE_CHUNK, type RestoreContext, restoreOwner, restoreVisibilityTimeout } from './restore.js';
import { type BrokerScripts, defineBrokerScripts } from './scripts/load-scripts.js';

type State = 'created' | 'started' | 'closed';

/** Unix time in seconds as kombu stores it in `unacked_index`. */
function nowScore(): string {
  return String(Date.now() / 1000);
}

/**
 * Redis transport compatible with kombu 5.2's: queues are lists (with priority sub-lists), delivered
 * entries are recorded in `unacked` + `unacked_index` until acked, and a visibility-timeout restore
 * puts back what a dead consumer held. Commands and the blocking pop use separate connections.
 */
export class RedisBroker {
  private state: State = 'created';
  private commands: (Redis & BrokerScripts) | undefined;
  private blocking: Redis | undefined;
  private closing: Promise<void> | undefined;
  private pendingWait: Promise<unknown> | undefined;
  private coalescing = false;
  /** Redis CLIENT ID of the blocking connection, so close() can unblock a pending pop cleanly. */
  private blockingClientId: number | undefined;
  private readonly declared = new Set<string>();
  private readonly fetchCycle = new QueueCycle();
  private waitOrder: string[] = [];
  private readonly listKeysByQueue = new Map<string, string[]>();
  private readonly unackedTails = new Map<string, string>();
  private readonly url: string;
  private readonly logger: Logger;
  private readonly visibilityTimeoutMs: number;
  private readonly held: string | undefined;
  private readonly deadLetterKey: string;

  constructor(options: BrokerOptions) {
    this.url = options.url;
    this.logger = options.logger;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 3_600_000;
    if (!(this.visibilityTimeoutMs > 0)) {
      throw new BrokerArgumentError(
        `visibilityTimeoutMs must be a positive number, got ${options.visibilityTimeoutMs}`,
      );
    }
    this.held = options.ownerId ? heldKey(options.ownerId) : undefined;
    this.deadLetterKey = options.deadLetterKey ?? DEFAULT_DEAD_LETTER_KEY;
  }

  /** Connects the command and blocking connections; resolves once both are ready. */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    if (this.state === 'closed') throw new BrokerClosedError('start', 'closed');
    const commands = defineBrokerScripts(createRedisConnection(this.url, 'broker', this.logger));
    const blocking = createRedisConnection(this.url, 'broker-blocking', this.logger);
    // After a reconnect Redis may have lost the bindings (a restart without persistence): declare again.
    commands.on('ready', () => this.declared.clear());
    blocking.on('ready', () => {
      blocking.client('ID').then(
        (id) => {
          this.blockingClientId = Number(id);
        },
        () => undefined,
      );
    });
    try {
      await Promise.all([commands.connect(), blocking.connect()]);
    } catch (error) {
      commands.disconnect(false);
      blocking.disconnect(false);
      throw new BrokerUnavailableError(this.url, 'start', error);
    }
    this.commands = commands;
    this.blocking = blocking;
    this.setState('started');
  }

  /** Stops a pending blocking pop and closes both connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.doClose();
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.setState('closed');
    await this.unblockPendingPop();
    this.blocking?.disconnect(false);
    if (this.pendingWait) await this.pendingWait.catch(() => undefined);
    if (this.commands) await closeRedisConnection(this.commands);
  }

  private setState(state: State): void {
    const from = this.state;
    this.state = state;
    this.logger.debug({ event: 'broker.state', from, state }, `broker ${state}`);
  }

  /**
   * Dropping the blocking connection while BRPOP waits can lose an entry that Redis popped just
   * then (the reply is never read). CLIENT UNBLOCK ends the pop as a timeout instead; an entry that
   * did arrive is read and handed back by `recordPopped`.
   */
  private async unblockPendingPop(): Promise<void> {
    const pending = this.pendingWait;
    const commands = this.commands;
    if (!pending || this.blockingClientId === undefined || commands?.status !== 'ready') return;
    await commands.client('UNBLOCK', this.blockingClientId).catch(() => undefined);
    await raceTimeout(
      pending.catch(() => undefined),
      2_000,
    );
  }

  /** LPUSHes one entry onto the queue's list for its priority; declares the queue binding once. */
  async publish(queue: string, raw: string, priority = 0): Promise<void> {
    await this.publishMany([{ queue, raw, priority }]);
  }

  /** Publishes many entries in one round trip; entries of one list keep their order. */
  async publishMany(items: readonly { queue: string; raw: string; priority?: number }[]): Promise<void> {
    const redis = this.connection('publish');
    if (items.length === 0) return;
    const byKey = new Map<string, string[]>();
    const fresh: string[] = [];
    for (const item of items) {
      if (!item.queue) throw new BrokerArgumentError('publish needs a non-empty queue name');
      const key = priorityListKey(item.queue, item.priority ?? 0);
      const list = byKey.get(key);
      if (list) list.push(item.raw);
      else byKey.set(key, [item.raw]);
      if (!this.declared.has(item.queue) && !fresh.includes(item.queue)) fresh.push(item.queue);
    }
    await this.run('publish', async () => {
      if (fresh.length === 0 && byKey.size === 1) {
        const [key, raws] = byKey.entries().next().value as [string, string[]];
        await redis.lpush(key, ...raws);
        return;
      }
      const pipeline = redis.pipeline();
      for (const queue of fresh) pipeline.sadd(bindingKey(queue), bindingMember(queue));
      for (const [key, raws] of byKey) pipeline.lpush(key, ...raws);
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    });
    for (const queue of fresh) this.declared.add(queue);
  }

  /**
   * Takes up to `max` entries without blocking, in one script call: lower priority steps first,
   * queues round-robin inside a step, and the starting queue rotates between calls. Every entry is
   * recorded in `unacked` and `unacked_index` (and the owner hash) before the call returns.
   */
  async fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    const redis = this.connection('fetchBatch');
    if (queues.length === 0 || !(max >= 1)) return [];
    const order = this.fetchCycle.next(queues);
    const n = order.length;
    const args: string[] = [UNACKED_KEY, UNACKED_INDEX_KEY, this.held ?? UNACKED_INDEX_KEY];
    for (let step = 0; step < PRIORITY_STEPS.length; step++) {
      for (const queue of order) args.push(this.listKeys(queue)[step]!);
    }
    args.push(String(Math.floor(max)), nowScore(), this.held ? '1' : '0', String(n));
    for (const queue of order) args.push(this.unackedTail(queue));
    const reply = await this.run('fetchBatch', () => redis.fetchBatch(3 + PRIORITY_STEPS.length * n, ...args));
    if (reply.length > 0) this.coalesceWrites();
    const deliveries: Delivery[] = new Array(reply.length / 3);
    for (let i = 0, j = 0; i < reply.length; i += 3, j++) {
      deliveries[j] = {
        raw: reply[i] as string,
        deliveryTag: reply[i + 1] as string,
        queue: order[(reply[i + 2] as number) - 1]!,
      };
    }
    return deliveries;
  }

  /**
   * Waits up to `timeoutSec` for one entry with BRPOP on the dedicated blocking connection (keys
   * ordered priority step first, then queue, like kombu), then records it as unacked. Resolves null
   * on timeout or when the broker is closed meanwhile. Call it from one loop at a time.
   */
  async waitForOne(
    queues: readonly string[],
    timeoutSec: number,
    options: WaitForOneOptions = {},
  ): Promise<Delivery | null> {
    const blocking = this.blockingConnection('waitForOne');
    if (queues.length === 0) return null;
    const order = this.nextWaitOrder(queues);
    const keys: string[] = [];
    const queueOfKey = new Map<string, string>();
    for (let step = 0; step < PRIORITY_STEPS.length; step++) {
      for (const queue of order) {
        const key = this.listKeys(queue)[step]!;
        keys.push(key);
        queueOfKey.set(key, queue);
      }
    }
    const pending = blocking.brpop(...keys, Math.max(0, timeoutSec));
    this.pendingWait = pending;
    let reply: [string, string] | null;
    try {
      reply = await pending;
    } catch (error) {
      if (this.state === 'closed') return null;
      throw this.wrap('waitForOne', error);
    } finally {
      if (this.pendingWait === pending) this.pendingWait = undefined;
    }
    if (!reply) return null;
    const [key, raw] = reply;
    const queue = queueOfKey.get(key) ?? key;
    // kombu rotates the queue that delivered to the end of the cycle.
    this.waitOrder = [...this.waitOrder.filter((q) => q !== queue), queue];
    if (options.awaitRecord === false && this.state !== 'closed') {
      const tag = scriptTagOf(raw);
      if (tag !== '') {
        this.coalesceWrites();
        void this.recordPopped(key, queue, raw);
        return { raw, queue, deliveryTag: tag };
      }
    }
    return this.recordPopped(key, queue, raw);
  }

  private async recordPopped(key: string, queue: string, raw: string): Promise<Delivery | null> {
    const redis = this.commands!;
    if (this.state === 'closed') {
      // Closing: hand the entry straight back instead of holding it.
      await redis.rpush(key, raw).catch((err: unknown) => {
        this.logger.error(
          { event: 'broker.hand_back_failed', queue, err },
          'could not hand back an entry popped during close',
        );
      });
      return null;
    }
    const held = this.held;
    try {
      const tag = await redis.recordDelivery(
        3,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        held ?? UNACKED_INDEX_KEY,
        raw,
        nowScore(),
        held ? '1' : '0',
        this.unackedTail(queue),
      );
      return { raw, queue, deliveryTag: tag };
    } catch (error) {
      // The entry is already popped: deliver it unrecorded rather than lose it.
      this.logger.warn(
        { event: 'broker.record_failed', queue, err: this.wrap('waitForOne', error) },
        'could not record a popped entry as unacked; delivering it without a visibility-timeout safety net',
      );
      return { raw, queue, deliveryTag: tagOf(raw) };
    }
  }

  /** Forgets delivered entries (ZREM unacked_index + HDEL unacked + owner), one call for all tags. */
  async ack(tags: readonly string[]): Promise<void> {
    const redis = this.connection('ack');
    if (tags.length === 0) return;
    const held = this.held;
    await this.run('ack', () =>
      redis.ack(3, UNACKED_KEY, UNACKED_INDEX_KEY, held ?? UNACKED_INDEX_KEY, held ? '1' : '0', ...tags),
    );
  }

  /**
   * Hands held entries back with RPUSH (taken next), with the redelivered flags set and the same
   * delivery tag, and drops them from unacked. An entry no longer held (acked, or restored by
   * someone else) is not pushed again. Returns the number pushed back.
   */
  async requeue(deliveries: readonly Delivery[]): Promise<number> {
    const redis = this.connection('requeue');
    let pushed = 0;
    const held = this.held;
    for (let start = 0; start < deliveries.length; start += RESTORE_CHUNK) {
      const chunk = deliveries.slice(start, start + RESTORE_CHUNK);
      const keys = [UNACKED_KEY, UNACKED_INDEX_KEY, held ?? UNACKED_INDEX_KEY];
      const args = [held ? '1' : '0'];
      for (const delivery of chunk) {
        keys.push(priorityListKey(delivery.queue));
        args.push(delivery.deliveryTag, markRedelivered(delivery.raw));
      }
      pushed += await this.run('requeue', () => redis.requeue(keys.length, ...keys, ...args));
    }
    return pushed;
  }

  /** Pushes `{raw, reason, queue, at}` onto the dead-letter list and acks the entry, atomically. */
  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const redis = this.connection('deadLetter');
    const record = JSON.stringify({ raw: delivery.raw, reason, queue: delivery.queue, at: new Date().toISOString() });
    const held = this.held;
    await this.run('deadLetter', () =>
      redis.deadLetter(
        4,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        held ?? UNACKED_INDEX_KEY,
        this.deadLetterKey,
        held ? '1' : '0',
        delivery.deliveryTag,
        record,
      ),
    );
  }

  /**
   * kombu's visibility-timeout restore: every entry delivered more than `visibilityTimeoutMs` ago
   * goes back onto its queue (under kombu's `unacked_mutex`). Returns the number restored.
   */
  restoreVisibilityTimeout(): Promise<number> {
    try {
      return restoreVisibilityTimeout(this.restoreContext('restoreVisibilityTimeout'), this.visibilityTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Puts back everything a (dead) consumer recorded under `ownerId` that it still held. Returns the number restored. */
  restoreOwner(ownerId: string): Promise<number> {
    try {
      return restoreOwner(this.restoreContext('restoreOwner'), ownerId);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private restoreContext(operation: string): RestoreContext {
    return { redis: this.connection(operation), logger: this.logger, run: (op, fn) => this.run(op, fn) };
  }

  /**
   * Until the current run of callbacks and promise reactions is over, commands written to the command
   * connection collect into one socket write: what a delivery causes at once (its record, the ack of
   * the tasks it ran, the next fetch) costs one system call instead of one each.
   */
  private coalesceWrites(): void {
    const stream = this.commands?.stream;
    if (this.coalescing || !stream || typeof stream.cork !== 'function') return;
    this.coalescing = true;
    stream.cork();
    process.nextTick(() => {
      this.coalescing = false;
      stream.uncork();
    });
  }

  private listKeys(queue: string): string[] {
    let keys = this.listKeysByQueue.get(queue);
    if (!keys) {
      keys = PRIORITY_STEPS.map((step) => priorityListKey(queue, step));
      this.listKeysByQueue.set(queue, keys);
    }
    return keys;
  }

  /** `, "", "<queue>"]`: the end of an unacked value, after the raw entry (default exchange, routing key = queue). */
  private unackedTail(queue: string): string {
    let tail = this.unackedTails.get(queue);
    if (!tail) {
      tail = ', "", ' + JSON.stringify(queue) + ']';
      this.unackedTails.set(queue, tail);
    }
    return tail;
  }

  private nextWaitOrder(queues: readonly string[]): string[] {
    const same = this.waitOrder.length === queues.length && queues.every((q) => this.waitOrder.includes(q));
    if (!same) this.waitOrder = queues.slice();
    return this.waitOrder;
  }

  private connection(operation: string): Redis & BrokerScripts {
    if (this.state !== 'started' || !this.commands) {
      throw new BrokerClosedError(operation, this.state === 'closed' ? 'closed' : 'not started');
    }
    return this.commands;
  }

  private blockingConnection(operation: string): Redis {
    this.connection(operation);
    return this.blocking!;
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.wrap(operation, error);
    }
  }

  private wrap(operation: string, error: unknown): Error {
    if (this.state === 'closed') return new BrokerClosedError(operation, 'closed');
    return isReplyError(error)
      ? new BrokerCommandError(this.url, operation, error)
      : new BrokerUnavailableError(this.url, operation, error);
  }
}
