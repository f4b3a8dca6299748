import type { Logger } from '@celeriac/logger';
import { markRedelivered } from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { BlockingWait, nowScore } from './blocking-wait.js';
import {
  type BrokerOptions,
  type Delivery,
  type DroppedDelayed,
  type LimitedDelivery,
  type ResolvedBrokerOptions,
  resolveBrokerOptions,
  type WaitForOneOptions,
} from './broker-options.js';
import { type DeadLetterDetails, DeadLetterList, deadLetterRecord } from './dead-letters.js';
import {
  type DeferItem,
  type DelayedContext,
  deferEntries,
  promoteDue,
  type RescheduleItem,
  rescheduleEntries,
  takeRedeliveryLimited,
} from './delayed-set.js';
import {
  BrokerArgumentError,
  BrokerClosedError,
  BrokerCommandError,
  BrokerUnavailableError,
  isReplyError,
} from './errors.js';
import { checkQueueBinding, type QueueBinding } from './exchange-bindings.js';
import { type ExchangePublish, ExchangeRouter } from './exchange-router.js';
import { FanoutInbox } from './fanout-inbox.js';
import { DELAYED_KEY, heldKey, REDELIVERIES_PREFIX, startedKey, UNACKED_INDEX_KEY, UNACKED_KEY } from './keys.js';
import { OwnerLease } from './owner-lease.js';
import { QueueCycle } from './queue-cycle.js';
import { QueueLists } from './queue-lists.js';
import { RESTORE_CHUNK, type RestoreContext, restoreOwner, restoreVisibilityTimeout } from './restore.js';
import { type BrokerScripts, defineBrokerScripts } from './scripts/load-scripts.js';
import { resolveTransportOptions, type TransportOptions } from './transport-options.js';
import { type WaitReplicas, waitForReplicas } from './wait-replicas.js';

type State = 'created' | 'started' | 'closed';

/**
 * Redis transport compatible with kombu 5.2's: queues are lists (with priority sub-lists), delivered
 * entries are recorded in `unacked` + `unacked_index` until acked, and a visibility-timeout restore
 * puts back what a dead consumer held. With an `ownerId` the consumer also holds a lease, takes
 * with atomic moves only and records what it holds under its owner id (README.md, "Delivery
 * guarantees"). Commands and the blocking pops use separate connections.
 */
export class RedisBroker {
  private state: State = 'created';
  private commands: (Redis & BrokerScripts) | undefined;
  private closing: Promise<void> | undefined;
  private coalescing = false;
  private readonly declared = new Set<string>();
  private readonly fetchCycle = new QueueCycle();
  private readonly transport: TransportOptions;
  private readonly lists: QueueLists;
  private readonly exchanges: ExchangeRouter;
  /** What declareQueues declared: declared again after a reconnect, as kombu's consumers re-declare. */
  private consumedBindings: QueueBinding[] = [];
  /** With an owner id: this worker's copies of fanout broadcasts (queues bound to a fanout exchange). */
  private readonly fanout: FanoutInbox | undefined;
  private readonly unackedTails = new Map<string, string>();
  private readonly url: string;
  private readonly logger: Logger;
  private readonly o: ResolvedBrokerOptions;
  private readonly waitReplicas: WaitReplicas | undefined;
  private readonly held: string | undefined;
  /** The owner's started set; with no owner a key that is never written (scripts skip it). */
  private readonly started: string;
  private readonly revokedKey: string | undefined;
  private readonly lease: OwnerLease | undefined;
  private readonly waiter: BlockingWait;
  /** The dead-letter list: list, show, requeue, purge. */
  readonly deadLetters: DeadLetterList;

  constructor(options: BrokerOptions) {
    this.url = options.url;
    this.waitReplicas = options.waitReplicas;
    this.logger = options.logger;
    this.o = resolveBrokerOptions(options);
    this.transport = resolveTransportOptions(options.transport);
    this.lists = new QueueLists(this.transport);
    this.exchanges = new ExchangeRouter({
      url: this.url,
      logger: this.logger,
      lists: this.lists,
      taskQueues: options.taskQueues,
      keyPrefix: this.transport.globalKeyPrefix,
    });
    this.held = options.ownerId ? heldKey(options.ownerId) : undefined;
    this.fanout = options.ownerId
      ? new FanoutInbox({
          url: this.url,
          logger: this.logger,
          ownerId: options.ownerId,
          lists: this.lists,
          keyPrefix: this.transport.globalKeyPrefix,
          commands: () => this.connection('fanout'),
        })
      : undefined;
    this.started = options.ownerId ? startedKey(options.ownerId) : UNACKED_INDEX_KEY;
    this.revokedKey = options.revokedKey;
    this.lease = options.ownerId
      ? new OwnerLease(
          () => this.connection('lease'),
          this.logger,
          options.ownerId,
          this.o.leaseTtlMs,
          this.o.redeliveryLimit,
        )
      : undefined;
    this.waiter = new BlockingWait(
      {
        url: this.url,
        logger: this.logger,
        ownerId: options.ownerId,
        commands: (operation) => this.connection(operation),
        rawCommands: () => this.commands,
        closed: () => this.state === 'closed',
        listKeys: (queue) => this.listKeys(queue),
        unackedTail: (queue) => this.unackedTail(queue),
        wrap: (operation, error) => this.wrap(operation, error),
        coalesceWrites: () => this.coalesceWrites(),
        poll: (order) => this.fetchOrdered(order, 1),
        fixedOrder: (queues) =>
          this.transport.queueOrderStrategy === 'round_robin' ? null : this.orderOf(queues).slice(),
        keyPrefix: this.transport.globalKeyPrefix,
        register: (queues) => this.lease?.register(queues) ?? Promise.resolve(),
      },
      this.o.blockingLanes,
    );
    this.deadLetters = new DeadLetterList(
      () => this.connection('deadLetters'),
      (operation, fn) => this.run(operation, fn),
      this.o.deadLetterKey,
    );
  }

  /** Connects the command and blocking connections (and takes the lease); resolves once ready. */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    if (this.state === 'closed') throw new BrokerClosedError('start', 'closed');
    const connection = createRedisConnection(this.url, 'broker', this.logger);
    // kombu's global_keyprefix: ioredis prefixes every key of every command (and of the scripts' KEYS).
    if (this.transport.globalKeyPrefix !== '') connection.options.keyPrefix = this.transport.globalKeyPrefix;
    const commands = defineBrokerScripts(connection);
    // After a reconnect Redis may have lost the bindings (a restart without persistence): declare again.
    commands.on('ready', () => {
      this.declared.clear();
      this.exchanges.forget();
      this.redeclareConsumed(commands);
    });
    for (const name of this.o.ignoredTransportOptions) {
      this.logger.warn(
        { event: 'broker.transport_option_ignored', option: name },
        `broker_transport_options.${name} is not used by Celeriac's Redis transport; it has no effect`,
      );
    }
    try {
      await Promise.all([commands.connect(), this.waiter.start()]);
    } catch (error) {
      commands.disconnect(false);
      await this.waiter.close();
      throw new BrokerUnavailableError(this.url, 'start', error);
    }
    this.commands = commands;
    this.setState('started');
    if (this.lease) {
      try {
        await this.lease.start();
      } catch (error) {
        await this.close();
        throw this.wrap('start', error);
      }
    }
  }

  /** Stops a pending blocking pop and closes both connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.doClose();
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasStarted = this.state === 'started';
    this.setState('closed');
    await Promise.all([this.waiter.close(), this.fanout?.close()]);
    if (wasStarted && this.commands?.status === 'ready') {
      this.waiter.flushUnrecorded(this.commands);
      await this.lease?.release(this.commands);
    }
    if (this.commands) await closeRedisConnection(this.commands);
  }

  private setState(state: State): void {
    const from = this.state;
    this.state = state;
    this.logger.debug({ event: 'broker.state', from, state }, `broker ${state}`);
  }

  /** LPUSHes one entry onto the queue's list for its priority; declares the queue binding once. */
  async publish(queue: string, raw: string, priority = 0): Promise<void> {
    await this.publishMany([{ queue, raw, priority }]);
  }

  /** Publishes many entries in one round trip; entries of one list keep their order. */
  async publishMany(items: readonly { queue: string; raw: string; priority?: number }[]): Promise<void> {
    const redis = this.connection('publish');
    if (items.length === 0) return;
    // A queue bound to a fanout exchange is never read from its list (kombu's consumers, and ours,
    // get broadcasts by pub/sub): a push to it is a broadcast, as Celery's retry of one is.
    if (this.exchanges.hasFanoutQueue() && items.some((i) => this.broadcastOf(i.queue))) {
      const direct = items.filter((i) => !this.broadcastOf(i.queue));
      for (const item of items) {
        const b = this.broadcastOf(item.queue);
        if (!b) continue;
        await this.exchanges.publish(
          redis,
          { exchange: b.exchange, routingKey: b.routingKey, exchangeType: 'fanout', entries: [item] },
          (operation, fn) => this.run(operation, fn),
        );
      }
      if (direct.length > 0) await this.publishMany(direct);
      return;
    }
    const byKey = new Map<string, string[]>();
    const fresh: string[] = [];
    for (const item of items) {
      if (!item.queue) throw new BrokerArgumentError('publish needs a non-empty queue name');
      const key = this.lists.key(this.listName(item.queue), item.priority ?? 0);
      const list = byKey.get(key);
      if (list) list.push(item.raw);
      else byKey.set(key, [item.raw]);
      if (!this.declared.has(item.queue) && !fresh.includes(item.queue)) fresh.push(item.queue);
    }
    await this.run('publish', async () => {
      if (fresh.length === 0 && byKey.size === 1) {
        const [key, raws] = byKey.entries().next().value as [string, string[]];
        await redis.lpush(key, ...raws);
      } else {
        const pipeline = redis.pipeline();
        for (const queue of fresh) this.exchanges.declareOn(pipeline, queue);
        for (const [key, raws] of byKey) pipeline.lpush(key, ...raws);
        const results = (await pipeline.exec()) ?? [];
        for (const [error] of results) if (error) throw error;
      }
      if (this.waitReplicas) await waitForReplicas(redis, this.waitReplicas);
    });
    for (const queue of fresh) this.declared.add(queue);
  }

  /**
   * Takes up to `max` entries without blocking, in one script call: lower priority steps first,
   * queues round-robin inside a step, and the starting queue rotates between calls. Every entry is
   * recorded in `unacked` and `unacked_index` (and the owner hash) before the call returns.
   */
  fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    try {
      this.connection('fetchBatch');
    } catch (error) {
      return Promise.reject(error);
    }
    if (queues.length === 0 || !(max >= 1)) return Promise.resolve([]);
    return this.fetchOrdered(this.orderOf(queues), max);
  }

  /** The reading order of `queues` under `queue_order_strategy`. */
  private orderOf(queues: readonly string[]): readonly string[] {
    const strategy = this.transport.queueOrderStrategy;
    if (strategy === 'priority') return queues;
    if (strategy === 'sorted') return [...queues].sort();
    return this.fetchCycle.next(queues);
  }

  /**
   * Declares kombu's `_kombu.binding.<exchange>` member of each queue (its `task_queues` binding,
   * or exchange = queue, direct, routing key = queue for a queue created as missing), as a Python
   * worker does when it starts consuming, so producers that route by exchange reach it. Throws
   * BROKER_QUEUE_NOT_FOUND for a queue not in `task_queues` when `task_create_missing_queues` is
   * false. A binding given in place of a name is declared as given (checked; the `add_consumer`
   * control command's exchange options). Returns the bindings declared.
   */
  async declareQueues(queues: readonly (string | QueueBinding)[]): Promise<QueueBinding[]> {
    const redis = this.connection('declareQueues');
    const bindings = queues.map((q) =>
      typeof q === 'string' ? this.exchanges.bindingsOf([q])[0]! : checkQueueBinding({ ...q }),
    );
    await this.run('declareQueues', async () => {
      const pipeline = redis.pipeline();
      for (const b of bindings) this.exchanges.declareBindingOn(pipeline, b);
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    });
    for (const b of bindings) this.declared.add(b.queue);
    await this.run('declareQueues', async () => this.fanout?.add(bindings));
    const known = new Set(this.consumedBindings.map((b) => b.queue));
    this.consumedBindings.push(...bindings.filter((b) => !known.has(b.queue)));
    return bindings;
  }

  /** After a reconnect (Redis may have restarted empty): the consumed queues' bindings again, so exchange routes keep reaching us. */
  private redeclareConsumed(redis: Redis & BrokerScripts): void {
    if (this.consumedBindings.length === 0 || this.state !== 'started') return;
    const pipeline = redis.pipeline();
    for (const b of this.consumedBindings) this.exchanges.declareBindingOn(pipeline, b);
    pipeline
      .exec()
      .then((results) => {
        const failed = results?.find(([error]) => error);
        if (failed) throw failed[0];
      })
      .catch((error: unknown) => {
        this.logger.warn(
          { event: 'broker.redeclare_failed', err: error, queues: this.consumedBindings.map((b) => b.queue) },
          'Could not declare the queue bindings again after a reconnect; producers routing by exchange may miss these queues',
        );
      });
  }

  /**
   * Publishes through a named exchange as kombu does: the exchange's bindings are read from
   * `_kombu.binding.<exchange>` (after declaring those of the \`task_queues\` entries bound to it)
   * and each entry goes to every bound queue that matches (direct: equal routing key; topic:
   * the binding's pattern; fanout: PUBLISH on kombu's channel). Where kombu drops a message that
   * matches no binding, this throws BROKER_UNROUTABLE naming the exchange and routing key.
   * Resolves with the queues (or, for fanout, the channel) it went to.
   */
  async publishToExchange(publish: ExchangePublish): Promise<{ queues: string[]; receivers?: number }> {
    const redis = this.connection('publishToExchange');
    return this.exchanges.publish(redis, publish, (operation, fn) => this.run(operation, fn));
  }

  private async fetchOrdered(order: readonly string[], max: number): Promise<Delivery[]> {
    const redis = this.connection('fetchBatch');
    const n = order.length;
    const args: string[] = [UNACKED_KEY, UNACKED_INDEX_KEY, this.held ?? UNACKED_INDEX_KEY];
    const steps = this.lists.steps.length;
    for (let step = 0; step < steps; step++) {
      for (const queue of order) args.push(this.listKeys(queue)[step]!);
    }
    args.push(String(Math.floor(max)), nowScore(), this.held ? '1' : '0', String(n));
    for (const queue of order) args.push(this.unackedTail(queue));
    args.push(this.transport.queueOrderStrategy === 'round_robin' ? '0' : '1');
    const reply = await this.run('fetchBatch', () => redis.fetchBatch(3 + steps * n, ...args));
    if (reply.length > 0) this.coalesceWrites();
    const deliveries: Delivery[] = new Array(reply.length / 3);
    for (let i = 0, j = 0; i < reply.length; i += 3, j++) {
      const k = (reply[i + 2] as number) - 1;
      const queue = order[k % n]!;
      // Which priority sub-lists carry traffic: the idle wait gives them a lane of their own.
      if (k >= n) this.waiter.noteActive(args[3 + k]!, queue, Math.floor(k / n));
      deliveries[j] = { raw: reply[i] as string, deliveryTag: reply[i + 1] as string, queue };
    }
    return deliveries;
  }

  /**
   * Waits up to `timeoutSec` for one entry and records it as unacked; resolves null on timeout or
   * when the broker is closed meanwhile. With an owner id: a poll over every list, then `BLMOVE`
   * into the owner's in-flight list on one lane per queue (nothing is lost if the process dies at
   * any point); without: kombu's BRPOP. Call it from one loop at a time.
   */
  waitForOne(queues: readonly string[], timeoutSec: number, options: WaitForOneOptions = {}): Promise<Delivery | null> {
    try {
      return this.waiter.wait(queues, timeoutSec, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Forgets delivered entries (ZREM unacked_index + HDEL unacked + owner), one call for all tags. */
  async ack(tags: readonly string[]): Promise<void> {
    const redis = this.connection('ack');
    if (tags.length === 0) return;
    this.waiter.flushUnrecorded(redis);
    const held = this.held;
    await this.run('ack', () =>
      redis.ack(4, UNACKED_KEY, UNACKED_INDEX_KEY, held ?? UNACKED_INDEX_KEY, this.started, held ? '1' : '0', ...tags),
    );
  }

  /**
   * Records that this owner starts these held entries (it marks redelivered ones before running
   * them): if it dies while they run, the restore counts a redelivery for each. Resolves with each
   * tag's count so far. Without an owner id: zeros, nothing written.
   */
  async markStarted(tags: readonly string[]): Promise<number[]> {
    const redis = this.connection('markStarted');
    if (tags.length === 0 || !this.held) return tags.map(() => 0);
    return this.run('markStarted', () =>
      redis.markStarted(1, this.started, this.transport.globalKeyPrefix + REDELIVERIES_PREFIX, ...tags),
    );
  }

  /**
   * Hands held entries back with RPUSH (taken next), with the redelivered flags set and the same
   * delivery tag, and drops them from unacked. An entry no longer held (acked, or restored by
   * someone else) is not pushed again. Returns the number pushed back.
   */
  async requeue(deliveries: readonly Delivery[]): Promise<number> {
    const redis = this.connection('requeue');
    this.waiter.flushUnrecorded(redis);
    let pushed = 0;
    const held = this.held;
    for (let start = 0; start < deliveries.length; start += RESTORE_CHUNK) {
      const chunk = deliveries.slice(start, start + RESTORE_CHUNK);
      const keys = [UNACKED_KEY, UNACKED_INDEX_KEY, held ?? UNACKED_INDEX_KEY, this.started];
      const args = [held ? '1' : '0'];
      for (const delivery of chunk) {
        keys.push(this.lists.plain(this.listName(delivery.queue)));
        args.push(delivery.deliveryTag, markRedelivered(delivery.raw));
      }
      pushed += await this.run('requeue', () => redis.requeue(keys.length, ...keys, ...args));
    }
    return pushed;
  }

  /**
   * Pushes a record (format in README.md; raws above `deadLetterMaxRawBytes` cut, with size and
   * sha256) onto the dead-letter list, trims the list to `deadLetterMaxEntries`, and acks the
   * entry, atomically.
   */
  async deadLetter(delivery: Delivery, reason: string, details: DeadLetterDetails = {}): Promise<void> {
    const redis = this.connection('deadLetter');
    this.waiter.flushUnrecorded(redis);
    const record = deadLetterRecord(delivery, reason, details, this.o.deadLetterMaxRawBytes);
    const held = this.held;
    await this.run('deadLetter', () =>
      redis.deadLetter(
        5,
        UNACKED_KEY,
        UNACKED_INDEX_KEY,
        held ?? UNACKED_INDEX_KEY,
        this.o.deadLetterKey,
        this.started,
        held ? '1' : '0',
        delivery.deliveryTag,
        record,
        String(this.o.deadLetterMaxEntries),
      ),
    );
  }

  /**
   * Moves held entries whose eta lies beyond the worker's horizon to the delayed set
   * (`celeriac.delayed`, by due time) and acks them, in one atomic call. An entry no longer held
   * is left alone. Returns the number moved.
   */
  defer(items: readonly DeferItem[]): Promise<number> {
    return this.delayedStep('defer', (ctx) => {
      this.waiter.flushUnrecorded(ctx.redis);
      return deferEntries(ctx, items);
    });
  }

  /** New due times for entries this worker moved to the delayed set (those still there); returns how many changed. */
  reschedule(items: readonly RescheduleItem[]): Promise<number> {
    return this.delayedStep('reschedule', (ctx) => rescheduleEntries(ctx, items));
  }

  /**
   * Moves up to `limit` due delayed entries (by Redis TIME) to the head of their queue; with the
   * `revokedKey` hook, drops those of revoked tasks and returns them. Every worker runs it periodically.
   */
  promoteDue(limit = 100): Promise<{ promoted: number; dropped: DroppedDelayed[] }> {
    return this.delayedStep('promoteDue', (ctx) => promoteDue(ctx, limit, this.revokedKey));
  }

  /** Entries waiting in the delayed set. */
  delayedCount(): Promise<number> {
    return this.delayedStep('delayedCount', (ctx) => ctx.redis.zcard(DELAYED_KEY));
  }

  /**
   * Takes up to `max` entries off the redelivery-limit list (messages restored more often than
   * `redeliveryLimit`), held like any delivery until the caller dead-letters them.
   */
  takeRedeliveryLimited(max = 50): Promise<LimitedDelivery[]> {
    return this.delayedStep('takeRedeliveryLimited', (ctx) => takeRedeliveryLimited(ctx, max));
  }

  private delayedStep<T>(operation: string, fn: (ctx: DelayedContext) => Promise<T>): Promise<T> {
    try {
      const redis = this.connection(operation);
      return this.run(operation, () => fn({ redis, held: this.held }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * kombu's visibility-timeout restore: every entry delivered more than `visibilityTimeoutMs` ago
   * goes back onto its queue (under kombu's `unacked_mutex`). Returns the number restored.
   */
  restoreVisibilityTimeout(): Promise<number> {
    try {
      return restoreVisibilityTimeout(this.restoreContext('restoreVisibilityTimeout'), this.o.visibilityTimeoutMs);
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
    return {
      redis: this.connection(operation),
      logger: this.logger,
      redeliveryLimit: this.o.redeliveryLimit,
      redeliveryCountTtlMs: this.o.redeliveryCountTtlMs,
      sep: this.transport.sep,
      run: (op, fn) => this.run(op, fn),
    };
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
    return this.lists.keys(this.listName(queue));
  }

  /** The fanout binding of a queue published to as a broadcast (not one this owner reads from its inbox). */
  private broadcastOf(queue: string): QueueBinding | undefined {
    if (this.fanout?.has(queue)) return undefined;
    return this.exchanges.fanoutBindingOf(queue);
  }

  /** The name of the lists a queue is read from: a fanout-bound queue's are this owner's inbox. */
  private listName(queue: string): string {
    return this.fanout?.has(queue) ? this.fanout.inboxName(queue) : queue;
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

  private connection(operation: string): Redis & BrokerScripts {
    if (this.state !== 'started' || !this.commands) {
      throw new BrokerClosedError(operation, this.state === 'closed' ? 'closed' : 'not started');
    }
    return this.commands;
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
