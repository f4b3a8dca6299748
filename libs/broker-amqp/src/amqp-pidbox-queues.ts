import type { Channel, Options } from 'amqplib';

/** Celery 5.2's `control_queue_ttl` (300 s) and `control_queue_expires` (10 s) of pidbox queues, in ms. */
export const CONTROL_QUEUE_TTL_MS = 300_000;
export const CONTROL_QUEUE_EXPIRES_MS = 10_000;

/** `x-message-ttl` and `x-expires` of the pidbox queues (Celery's `control_queue_ttl` / `control_queue_expires`); null: none. */
export interface PidboxQueueLimits {
  queueTtlMs?: number | null;
  queueExpiresMs?: number | null;
}

/**
 * A pidbox queue as kombu's Mailbox declares it on RabbitMQ (node queues `<hostname>.celery.pidbox`
 * and reply queues `<oid>.reply.celery.pidbox` alike): transient, auto-deleted, with
 * `x-message-ttl` 300000 and `x-expires` 10000 unless the settings say otherwise. Declared
 * differently from a Python node of the same name, one of the two declares would be refused
 * (PRECONDITION_FAILED).
 */
export function pidboxQueueOptions(limits: PidboxQueueLimits = {}): Options.AssertQueue {
  const ttl = limits.queueTtlMs === undefined ? CONTROL_QUEUE_TTL_MS : limits.queueTtlMs;
  const expires = limits.queueExpiresMs === undefined ? CONTROL_QUEUE_EXPIRES_MS : limits.queueExpiresMs;
  const args: Record<string, number> = {};
  if (ttl !== null) args['x-message-ttl'] = Math.round(ttl);
  if (expires !== null) args['x-expires'] = Math.round(expires);
  return { durable: false, autoDelete: true, arguments: args };
}

/** The pidbox exchanges (`celery.pidbox` fanout, `reply.celery.pidbox` direct) are transient, as kombu's. */
export const PIDBOX_EXCHANGE_OPTIONS: Options.AssertExchange = { durable: false, autoDelete: false };

/** Declares a pidbox exchange once per channel. */
export class ExchangeDeclarations {
  private readonly done = new Map<string, Promise<unknown>>();

  constructor(private readonly channel: Channel) {}

  ensure(exchange: string, type: 'fanout' | 'direct' | 'topic', options: Options.AssertExchange): Promise<unknown> {
    let declared = this.done.get(exchange);
    if (declared === undefined) {
      declared = this.channel.assertExchange(exchange, type, options);
      declared.catch(() => this.done.delete(exchange));
      this.done.set(exchange, declared);
    }
    return declared;
  }
}
