import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { EventMessage, EventTransport } from './event-transport.js';
import { EnvelopeTemplate } from './kombu-envelope.js';
import { fanoutChannel, redisDbFromUrl } from './wire-names.js';

export interface RedisEventTransportOptions {
  /** Broker URL: its db names the channels (`/<db>.celeryev/...`). */
  url: string;
  logger: Logger;
  /** A command connection to publish on; without one the transport opens its own. */
  redis?: Redis;
  keyPrefix?: string;
}

/**
 * Events as kombu's Redis transport sends them: a PUBLISH of a kombu envelope on
 * `/<db>.celeryev/<routing key>`. Envelopes are built from a template per routing key (only the
 * body and the delivery tag change per message); task-event lists come escaped for the envelope's
 * `body` string (`bodyInString`) and go in as they are, other events in base64 as kombu writes them.
 */
export class RedisEventTransport implements EventTransport {
  readonly bodyInString = true;
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private readonly db: number;
  private readonly keyPrefix: string;
  /** Templates by headers object (a dispatcher passes the same one every time), then by exchange and routing key (one exchange in practice). */
  private readonly templates = new WeakMap<object, Map<string, EnvelopeTemplate>>();

  constructor(options: RedisEventTransportOptions) {
    this.ownsRedis = options.redis === undefined;
    this.redis = options.redis ?? createRedisConnection(options.url, 'events', options.logger);
    this.db = redisDbFromUrl(options.url);
    this.keyPrefix = options.keyPrefix ?? '';
  }

  async publish(
    exchange: string,
    messages: readonly EventMessage[],
    headers: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    // Not a pipeline: ioredis writes each command at once without waiting for the reply before,
    // so the messages still go in one round trip, and a pipeline's joining of every command into
    // one buffer cost 0.8 µs per task more (bench/runtime/events-micro.mjs --redis).
    const published: Promise<number>[] = [];
    for (const { routingKey, body, inString } of messages) {
      const template = this.template(exchange, routingKey, headers);
      published.push(
        this.redis.publish(
          fanoutChannel(this.db, exchange, routingKey, this.keyPrefix),
          inString === true
            ? template.encodeInString(body)
            : template.encodeBase64(Buffer.from(body, 'utf8').toString('base64')),
        ),
      );
    }
    await Promise.all(published);
  }

  private template(exchange: string, routingKey: string, headers: Readonly<Record<string, unknown>>): EnvelopeTemplate {
    let byKey = this.templates.get(headers);
    if (byKey === undefined) {
      byKey = new Map();
      this.templates.set(headers, byKey);
    }
    const key = `${exchange}\n${routingKey}`;
    let template = byKey.get(key);
    if (template === undefined) {
      template = new EnvelopeTemplate({ exchange, routingKey, headers, deliveryMode: 1 });
      byKey.set(key, template);
    }
    return template;
  }

  async close(): Promise<void> {
    if (this.ownsRedis) await closeRedisConnection(this.redis);
  }
}
