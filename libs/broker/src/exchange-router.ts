import type { Logger } from '@celeriac/logger';
import type { ChainableCommander, Redis } from 'ioredis';
import { BrokerQueueNotFoundError, BrokerUnroutableError } from './errors.js';
import {
  type BindingMember,
  bindingMemberOf,
  type ExchangeType,
  exchangeBindingKey,
  matchingQueues,
  parseBindingMember,
  type QueueBinding,
} from './exchange-bindings.js';
import type { QueueLists } from './queue-lists.js';
import type { TaskQueues } from './task-queues.js';

/** One publish through a named exchange: the entries (same envelope for every bound queue, as kombu). */
export interface ExchangePublish {
  exchange: string;
  routingKey: string;
  /** The exchange's type; default: what `task_queues` says of the exchange, else direct (kombu's default). */
  exchangeType?: ExchangeType;
  entries: readonly { raw: string; priority?: number }[];
}

/** What the router needs from the broker. */
export interface ExchangeRouterContext {
  url: string;
  logger: Logger;
  lists: QueueLists;
  taskQueues: TaskQueues | undefined;
  /** kombu's global_keyprefix: the connection prefixes keys itself, channels are prefixed here. */
  keyPrefix: string;
}

type Run = <T>(operation: string, fn: () => Promise<T>) => Promise<T>;

/**
 * kombu's exchanges on Redis: a binding is a member `<routing_key><sep><pattern><sep><queue>` of the
 * set `_kombu.binding.<exchange>`; a publish to a named exchange reads the set and pushes to every
 * matching queue's list, or, for fanout, PUBLISHes on `/<db>.<exchange>[/<routing_key>]`.
 */
export class ExchangeRouter {
  private readonly declaredExchanges = new Set<string>();
  private hasFanout: boolean | undefined;

  constructor(private readonly ctx: ExchangeRouterContext) {}

  /** Forgets what was declared (after a reconnect Redis may have lost it). */
  forget(): void {
    this.declaredExchanges.clear();
  }

  /** The binding a publish to `queue` declares: its `task_queues` entry, else the queue's own direct exchange. */
  bindingOf(queue: string): QueueBinding {
    return (
      this.ctx.taskQueues?.bindingOf(queue) ?? { queue, exchange: queue, exchangeType: 'direct', routingKey: queue }
    );
  }

  /** Whether `task_queues` binds any queue to a fanout exchange. */
  hasFanoutQueue(): boolean {
    if (this.hasFanout === undefined) {
      this.hasFanout = [...(this.ctx.taskQueues?.bindings.values() ?? [])].some((b) => b.exchangeType === 'fanout');
    }
    return this.hasFanout;
  }

  /** The `task_queues` binding of a queue bound to a fanout exchange, else undefined. */
  fanoutBindingOf(queue: string): QueueBinding | undefined {
    const b = this.ctx.taskQueues?.bindings.get(queue);
    return b?.exchangeType === 'fanout' ? b : undefined;
  }

  /** The bindings of queues a worker consumes; BROKER_QUEUE_NOT_FOUND for one missing from `task_queues` when missing queues are not created. */
  bindingsOf(queues: readonly string[]): QueueBinding[] {
    return queues.map((queue) => {
      if (!this.ctx.taskQueues) return this.bindingOf(queue);
      const binding = this.ctx.taskQueues.bindingOf(queue);
      if (!binding) throw new BrokerQueueNotFoundError(queue);
      return binding;
    });
  }

  /** Adds the SADD of the queue's binding to a pipeline (kombu's queue_declare + queue_bind). */
  declareOn(pipeline: ChainableCommander, queue: string): void {
    this.declareBindingOn(pipeline, this.bindingOf(queue));
  }

  /** Adds the SADD of one binding to a pipeline. */
  declareBindingOn(pipeline: ChainableCommander, binding: QueueBinding): void {
    pipeline.sadd(exchangeBindingKey(binding.exchange), bindingMemberOf(binding, this.ctx.lists.sep));
  }

  /** The members of an exchange's binding set, parsed (malformed members skipped). */
  async members(redis: Redis, exchange: string): Promise<BindingMember[]> {
    const raw = await redis.smembers(exchangeBindingKey(exchange));
    const out: BindingMember[] = [];
    for (const m of raw) {
      const parsed = parseBindingMember(m, this.ctx.lists.sep);
      if (parsed) out.push(parsed);
    }
    return out;
  }

  /** kombu's fanout channel: `/<db>.<exchange>`, plus `/<routing_key>` when there is one (fanout_prefix, fanout_patterns on). */
  fanoutChannel(redis: Redis, exchange: string, routingKey: string): string {
    const db = Number(redis.options.db ?? 0) || 0;
    return `${this.ctx.keyPrefix}/${db}.${exchange}${routingKey ? `/${routingKey}` : ''}`;
  }

  /** Publishes through a named exchange (see RedisBroker.publishToExchange). */
  async publish(redis: Redis, p: ExchangePublish, run: Run): Promise<{ queues: string[]; receivers?: number }> {
    const type = p.exchangeType ?? this.ctx.taskQueues?.exchangeTypeOf(p.exchange) ?? 'direct';
    if (type === 'fanout') {
      const channel = this.fanoutChannel(redis, p.exchange, p.routingKey);
      const receivers = await run('publishToExchange', async () => {
        const pipeline = redis.pipeline();
        for (const e of p.entries) pipeline.publish(channel, e.raw);
        const results = (await pipeline.exec()) ?? [];
        let most = 0;
        for (const [error, n] of results) {
          if (error) throw error;
          most = Math.max(most, Number(n));
        }
        return most;
      });
      if (receivers === 0) throw new BrokerUnroutableError(p.exchange, p.routingKey, type);
      return { queues: [], receivers };
    }
    const members = await run('publishToExchange', async () => {
      await this.declareKnown(redis, p.exchange);
      return this.members(redis, p.exchange);
    });
    const queues = matchingQueues(type, members, p.routingKey);
    if (queues.length === 0) {
      this.ctx.logger.error(
        { event: 'broker.unroutable', exchange: p.exchange, routing_key: p.routingKey, exchange_type: type },
        `No queue is bound to exchange ${p.exchange} for routing key ${p.routingKey}: message not sent`,
      );
      throw new BrokerUnroutableError(p.exchange, p.routingKey, type);
    }
    await run('publishToExchange', async () => {
      const pipeline = redis.pipeline();
      for (const queue of queues) {
        for (const e of p.entries) pipeline.lpush(this.ctx.lists.key(queue, e.priority ?? 0), e.raw);
      }
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    });
    return { queues };
  }

  /** Declares, once per connection, the bindings `task_queues` gives the exchange (as kombu's producer declares its queue). */
  private async declareKnown(redis: Redis, exchange: string): Promise<void> {
    if (this.declaredExchanges.has(exchange) || !this.ctx.taskQueues) return;
    const known = [...this.ctx.taskQueues.bindings.values()].filter((b) => b.exchange === exchange);
    if (known.length > 0) {
      const pipeline = redis.pipeline();
      for (const b of known) this.declareBindingOn(pipeline, b);
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    }
    this.declaredExchanges.add(exchange);
  }
}
