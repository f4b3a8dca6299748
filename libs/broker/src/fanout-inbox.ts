import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { QueueBinding } from './exchange-bindings.js';
import type { QueueLists } from './queue-lists.js';

/** What the inbox needs from the broker. */
export interface FanoutInboxContext {
  url: string;
  logger: Logger;
  ownerId: string;
  lists: QueueLists;
  /** kombu's global_keyprefix: put before the channel patterns (the connection prefixes keys itself). */
  keyPrefix: string;
  /** The broker's command connection (keys prefixed by it). */
  commands(): Redis;
}

/**
 * A worker's copy of what fanout exchanges broadcast. kombu sends a fanout message with PUBLISH on
 * `/<db>.<exchange>[/<routing_key>]` and each consumer of a queue bound to it gets its own copy by
 * PSUBSCRIBE, never through the queue's list. Here one subscriber connection receives those copies
 * and pushes each onto this owner's own lists for the queue (`celeriac.fanout.<owner><sep><queue>`,
 * by priority), which the broker reads in place of the queue's shared lists: every worker gets
 * every broadcast once, a retry goes back to the same worker. Like kombu's pub/sub, what is
 * broadcast while no worker listens is not kept.
 */
export class FanoutInbox {
  private subscriber: Redis | null = null;
  private readonly patterns = new Map<string, string>();
  private readonly queues = new Set<string>();

  constructor(private readonly ctx: FanoutInboxContext) {}

  /** Whether `queue` is read from this owner's inbox lists. */
  has(queue: string): boolean {
    return this.queues.has(queue);
  }

  /** The name whose lists hold this owner's copies for `queue`. */
  inboxName(queue: string): string {
    return `celeriac.fanout.${this.ctx.ownerId}${this.ctx.lists.sep}${queue}`;
  }

  /** kombu's subscribe pattern of a fanout binding: `#` becomes `*`, no `/<key>` for an empty key. */
  pattern(binding: QueueBinding, db: number): string {
    const key = binding.routingKey.replace(/#/g, '*');
    return `${this.ctx.keyPrefix}/${db}.${binding.exchange}${key ? `/${key}` : ''}`;
  }

  /** Subscribes to the channels of these fanout bindings (first call connects the subscriber). */
  async add(bindings: readonly QueueBinding[]): Promise<void> {
    const fresh = bindings.filter((b) => b.exchangeType === 'fanout' && !this.queues.has(b.queue));
    if (fresh.length === 0) return;
    if (!this.subscriber) {
      const subscriber = createRedisConnection(this.ctx.url, 'broker-fanout', this.ctx.logger);
      subscriber.on('pmessage', (pattern: string, _channel: string, message: string) => this.take(pattern, message));
      await subscriber.connect();
      this.subscriber = subscriber;
    }
    const db = Number(this.subscriber.options.db ?? 0) || 0;
    const added: string[] = [];
    for (const b of fresh) {
      const pattern = this.pattern(b, db);
      this.patterns.set(pattern, b.queue);
      this.queues.add(b.queue);
      added.push(pattern);
    }
    await this.subscriber.psubscribe(...added);
  }

  private take(pattern: string, raw: string): void {
    const queue = this.patterns.get(pattern);
    if (queue === undefined || raw === '') return;
    let priority = 0;
    try {
      const p = (JSON.parse(raw) as { properties?: { priority?: unknown } }).properties?.priority;
      if (typeof p === 'number') priority = p;
    } catch {
      // Not JSON: the worker's decoder dead-letters it with its reason, as any unreadable entry.
    }
    this.ctx
      .commands()
      .lpush(this.ctx.lists.key(this.inboxName(queue), priority), raw)
      .catch((error: unknown) => {
        this.ctx.logger.error(
          { event: 'broker.fanout_lost', queue, err: error },
          `A broadcast for queue ${queue} could not be stored and is lost`,
        );
      });
  }

  /** Unsubscribes and closes the subscriber. */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber) await closeRedisConnection(subscriber);
  }
}
