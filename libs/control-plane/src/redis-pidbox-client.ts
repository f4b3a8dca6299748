import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { encodeEnvelopeOfBody, parseEnvelope } from './kombu-envelope.js';
import type { PidboxClientTransport, PidboxMessage, PidboxOutgoing } from './pidbox-transport.js';
import {
  bindingKey,
  bindingMember,
  fanoutChannel,
  PIDBOX_EXCHANGE,
  priorityLists,
  redisDbFromUrl,
} from './wire-names.js';

export interface RedisPidboxClientOptions {
  /** Broker URL (its db names the fanout channel). */
  url: string;
  /** The command connection (may be shared); the blocking reply reads always use a connection of their own. */
  redis: Redis;
  logger: Logger;
  keyPrefix?: string;
}

/**
 * A pidbox client on kombu's Redis transport: PUBLISHes requests on `/<db>.celery.pidbox`, binds
 * its reply queue to `reply.celery.pidbox` for the length of a broadcast and BRPOPs the replies
 * on a connection of its own.
 */
export class RedisPidboxClient implements PidboxClientTransport {
  private blocking: Redis | undefined;
  private readonly keyPrefix: string;
  private readonly channel: string;
  private lists: string[] = [];
  private aborted = false;

  constructor(private readonly o: RedisPidboxClientOptions) {
    this.keyPrefix = o.keyPrefix ?? '';
    this.channel = fanoutChannel(redisDbFromUrl(o.url), PIDBOX_EXCHANGE, '', this.keyPrefix);
  }

  async openReplies(queue: string, exchange: string, oid: string): Promise<void> {
    this.lists = priorityLists(queue, this.keyPrefix);
    await this.o.redis.sadd(bindingKey(exchange, this.keyPrefix), bindingMember(oid, queue));
  }

  async publish(message: PidboxOutgoing): Promise<void> {
    await this.o.redis.publish(this.channel, encodeEnvelopeOfBody(message.body, message.serializer, message));
  }

  async nextReply(timeoutMs: number): Promise<PidboxMessage | null> {
    for (;;) {
      if (this.aborted || timeoutMs <= 0) return null;
      const started = Date.now();
      this.blocking ??= createRedisConnection(this.o.url, 'control-client-replies', this.o.logger);
      let popped: [string, string] | null;
      try {
        popped = await this.blocking.brpop(...this.lists, Math.max(0.01, timeoutMs / 1000));
      } catch (err) {
        if (this.aborted) return null;
        throw err;
      }
      if (popped === null) return null;
      const parsed = parseEnvelope(popped[1]);
      if (parsed.ok) return parsed.value;
      this.o.logger.warn({ event: 'control.bad_reply', reason: parsed.reason }, 'cannot decode a reply');
      timeoutMs -= Date.now() - started;
    }
  }

  async closeReplies(queue: string, exchange: string, oid: string): Promise<void> {
    await this.o.redis
      .multi()
      .srem(bindingKey(exchange, this.keyPrefix), bindingMember(oid, queue))
      .del(...priorityLists(queue, this.keyPrefix))
      .exec()
      .catch(() => undefined);
  }

  abort(): void {
    this.aborted = true;
    this.blocking?.disconnect(false);
  }

  async close(): Promise<void> {
    if (this.blocking) await closeRedisConnection(this.blocking);
    this.blocking = undefined;
  }
}
