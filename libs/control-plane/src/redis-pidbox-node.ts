import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { encodeEnvelopeOfBody, parseEnvelope } from './kombu-envelope.js';
import type { PidboxMessage, PidboxNodeTransport, PidboxOutgoing } from './pidbox-transport.js';
import {
  bindingKey,
  bindingMember,
  fanoutChannel,
  PIDBOX_EXCHANGE,
  parseBindingMember,
  priorityLists,
  redisDbFromUrl,
} from './wire-names.js';

export interface RedisPidboxNodeOptions {
  /** Broker URL (its db names the fanout channel `/<db>.celery.pidbox`). */
  url: string;
  /** The command connection for SADD/SMEMBERS/LPUSH (may be shared; the subscriber is always its own). */
  redis: Redis;
  logger: Logger;
  keyPrefix?: string;
}

/**
 * A pidbox node on kombu's Redis transport: binds the node queue to `celery.pidbox` (SADD to
 * `_kombu.binding.celery.pidbox`), PSUBSCRIBEs `/<db>.celery.pidbox` on a connection of its own and
 * LPUSHes replies onto the queues bound to the reply's routing key.
 */
export class RedisPidboxNode implements PidboxNodeTransport {
  private subscriber: Redis | undefined;
  private readonly channel: string;
  private readonly keyPrefix: string;
  private binding: { key: string; member: string } | undefined;
  private queue = '';

  constructor(private readonly o: RedisPidboxNodeOptions) {
    this.keyPrefix = o.keyPrefix ?? '';
    this.channel = fanoutChannel(redisDbFromUrl(o.url), PIDBOX_EXCHANGE, '', this.keyPrefix);
  }

  async listen(queue: string, exchange: string, onRequest: (message: PidboxMessage) => void): Promise<void> {
    const { redis, logger } = this.o;
    this.queue = queue;
    const binding = { key: bindingKey(exchange, this.keyPrefix), member: bindingMember('', queue) };
    this.binding = binding;
    const subscriber = createRedisConnection(this.o.url, 'pidbox-subscriber', logger);
    this.subscriber = subscriber;
    try {
      await redis.sadd(binding.key, binding.member);
      subscriber.on('pmessage', (_pattern: string, _channel: string, raw: string) => {
        const parsed = parseEnvelope(raw);
        if (parsed.ok) onRequest(parsed.value);
        else {
          logger.warn(
            { event: 'control.bad_message', reason: parsed.reason, detail: parsed.detail },
            'cannot decode a pidbox message',
          );
        }
      });
      await subscriber.psubscribe(this.channel);
      // Redis may come back empty after a restart: bind again whenever the subscriber reconnects.
      subscriber.on('ready', () => {
        redis.sadd(binding.key, binding.member).catch((err: unknown) => {
          logger.warn({ event: 'control.rebind_failed', err }, 'could not re-bind the pidbox queue');
        });
      });
    } catch (err) {
      await this.closeSubscriber();
      throw err;
    }
  }

  async reply(message: PidboxOutgoing): Promise<void> {
    const { redis } = this.o;
    const members = await redis.smembers(bindingKey(message.exchange, this.keyPrefix));
    const queues = members
      .map(parseBindingMember)
      .filter((m) => m !== undefined && m.routingKey === message.routingKey)
      .map((m) => m!.queue);
    if (queues.length === 0) {
      // kombu drops it too (InconsistencyError): the client stopped waiting and unbound its queue.
      this.o.logger.debug(
        { event: 'control.reply_unroutable', routing_key: message.routingKey },
        'nobody waits for this reply',
      );
      return;
    }
    const envelope = encodeEnvelopeOfBody(message.body, message.serializer, message);
    const pipeline = redis.pipeline();
    for (const queue of queues) pipeline.lpush(this.keyPrefix + queue, envelope);
    await pipeline.exec();
  }

  /** PUNSUBSCRIBE, then SREM of the binding and DEL of the node queue lists, as Celery's warm shutdown does. */
  async stop(): Promise<void> {
    await this.subscriber?.punsubscribe().catch(() => undefined);
    if (this.binding !== undefined) {
      const binding = this.binding;
      this.binding = undefined;
      try {
        await this.o.redis
          .multi()
          .srem(binding.key, binding.member)
          .del(...priorityLists(this.queue, this.keyPrefix))
          .exec();
      } catch (err) {
        this.o.logger.warn({ event: 'control.unbind_failed', err }, 'could not unbind the pidbox queue');
      }
    }
    await this.closeSubscriber();
  }

  private async closeSubscriber(): Promise<void> {
    if (this.subscriber) await closeRedisConnection(this.subscriber);
    this.subscriber = undefined;
  }
}
