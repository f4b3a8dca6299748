import type { QueueBinding } from '@celeriac/broker';
import type { Channel } from 'amqplib';
import { AmqpError } from './amqp-errors.js';

/**
 * Celery 5.5's native delayed delivery on RabbitMQ (kombu 5.5's `native_delayed_delivery`), built
 * the same way so that a Celery 5.5 fleet and Celeriac share it: 28 levels, each a topic exchange
 * `celery_delayed_<i>` and a queue of the same name whose messages live 2^i s (`x-message-ttl`)
 * and are then dead-lettered to level i-1 (level 0 to `celery_delayed_delivery`). A message is
 * published to `celery_delayed_27` with the 28 bits of its delay (most significant first) before
 * its routing key: level i's queue takes it when bit i is 1 (binding `*.`×(27-i) `1.#`), level i's
 * exchange passes it straight on to level i-1 when the bit is 0 (`*.`×(27-i) `0.#`), so it waits
 * exactly the sum of its 1 bits. Out of `celery_delayed_delivery` it reaches its queue through
 * bindings on `#.<routing key>`: it comes back as an ordinary message (a Celery 5.2 worker takes it).
 */
export const DELAY_LEVELS = 28;
/** Where the last level dead-letters to; destination queues are bound to it. */
export const DELAYED_DELIVERY_EXCHANGE = 'celery_delayed_delivery';
/** Longest delay the 28 bits say, in seconds (about 8.5 years); a later eta goes round again. */
export const MAX_DELAY_SEC = 2 ** DELAY_LEVELS - 1;

/** Exchange and queue of one level. */
export function delayLevelName(level: number): string {
  return `celery_delayed_${level}`;
}

/** The exchange a delayed message is published to: the top level. */
export const DELAY_ENTRY_EXCHANGE = delayLevelName(DELAY_LEVELS - 1);

/** The queue type of the levels: `broker_native_delayed_delivery_queue_type` (Celery 5.5; quorum by default). */
export type DelayQueueType = 'classic' | 'quorum';

/** `broker_native_delayed_delivery_queue_type` of the settings; AMQP_QUEUE_CONFLICT for anything but classic or quorum. */
export function delayQueueTypeOf(settings: Readonly<Record<string, unknown>>): DelayQueueType {
  const value = settings.broker_native_delayed_delivery_queue_type;
  if (value === undefined || value === null || value === 'quorum') return 'quorum';
  if (value === 'classic') return 'classic';
  throw new AmqpError(
    'AMQP_QUEUE_CONFLICT',
    `broker_native_delayed_delivery_queue_type must be "quorum" or "classic" (Celery 5.5's), got ${JSON.stringify(value)}`,
  );
}

/** The 28 bits before a routing key (`0.1.` …), as a prefix of a delayed message's routing key. */
const DELAY_PREFIX = new RegExp(`^(?:[01]\\.){${DELAY_LEVELS}}`);

/**
 * The routing key of a message delayed `delaySec` whole seconds (1 … MAX_DELAY_SEC, clamped) on
 * its way to `routingKey`; a routing key that already carries a delay prefix (a message that came
 * back through the levels) loses it first, so prefixes never pile up.
 */
export function delayRoutingKey(delaySec: number, routingKey: string): string {
  const sec = Math.min(MAX_DELAY_SEC, Math.max(1, Math.floor(delaySec)));
  const bits = sec.toString(2).padStart(DELAY_LEVELS, '0').split('').join('.');
  return `${bits}.${routingKey.replace(DELAY_PREFIX, '')}`;
}

/** The key destination bindings on `celery_delayed_delivery` use: `#.<routing key>` (as is when it starts with `#`). */
export function deliveryBindingKey(routingKey: string): string {
  return routingKey.startsWith('#') ? routingKey : `#.${routingKey}`;
}

/** The routing key a queue's delayed messages carry after their bits: its binding key, else its name. */
export function delayTargetKey(binding: QueueBinding): string {
  return binding.routingKey !== '' ? binding.routingKey : binding.queue;
}

/** Longest routing key AMQP carries (a short string). */
const MAX_ROUTING_KEY_BYTES = 255;

/** Whether a queue's delayed messages fit AMQP's routing key (its key under 200 bytes). */
export function delayable(binding: QueueBinding): boolean {
  return Buffer.byteLength(delayRoutingKey(1, delayTargetKey(binding))) <= MAX_ROUTING_KEY_BYTES;
}

/**
 * Declares the 28 levels and `celery_delayed_delivery` as kombu 5.5 does (idempotent: the same
 * arguments every time): level queues with `x-queue-type`, `x-overflow: reject-publish`,
 * `x-message-ttl` 2^i s, `x-dead-letter-exchange` the next level, and on quorum queues
 * `x-dead-letter-strategy: at-least-once` (a message is dead-lettered before it leaves the level,
 * so a node failure cannot lose it; RabbitMQ 3.10+).
 */
export async function declareDelayTopology(channel: Channel, queueType: DelayQueueType): Promise<void> {
  const ops: Promise<unknown>[] = [];
  for (let level = DELAY_LEVELS - 1; level >= 0; level--) {
    const name = delayLevelName(level);
    const wildcards = '*.'.repeat(DELAY_LEVELS - 1 - level);
    ops.push(channel.assertExchange(name, 'topic', { durable: true, autoDelete: false }));
    const args: Record<string, unknown> = {
      'x-queue-type': queueType,
      'x-overflow': 'reject-publish',
      'x-message-ttl': 2 ** level * 1000,
      'x-dead-letter-exchange': level > 0 ? delayLevelName(level - 1) : DELAYED_DELIVERY_EXCHANGE,
    };
    if (queueType === 'quorum') args['x-dead-letter-strategy'] = 'at-least-once';
    ops.push(channel.assertQueue(name, { durable: true, autoDelete: false, exclusive: false, arguments: args }));
    ops.push(channel.bindQueue(name, name, `${wildcards}1.#`));
  }
  ops.push(channel.assertExchange(DELAYED_DELIVERY_EXCHANGE, 'topic', { durable: true, autoDelete: false }));
  // Exchange-to-exchange: a 0 bit passes the message to the next level at once.
  for (let level = DELAY_LEVELS - 1; level >= 1; level--) {
    ops.push(
      channel.bindExchange(
        delayLevelName(level - 1),
        delayLevelName(level),
        `${'*.'.repeat(DELAY_LEVELS - 1 - level)}0.#`,
      ),
    );
  }
  ops.push(channel.bindExchange(DELAYED_DELIVERY_EXCHANGE, delayLevelName(0), `${'*.'.repeat(DELAY_LEVELS - 1)}0.#`));
  // amqplib runs a channel's RPCs in order; sent together they take one round of confirmations.
  await Promise.all(ops);
}

/**
 * Binds a queue so its delayed messages come back to it (declaring `celery_delayed_delivery` first): for a topic exchange as kombu 5.5 binds it
 * (the exchange to `celery_delayed_delivery` on `#.<key>`, the queue to its exchange on `#.<key>`:
 * what a Celery 5.5 worker declares), and in every case the queue itself to
 * `celery_delayed_delivery` on `#.<key>`, so that queues of a direct or fanout exchange (which
 * kombu leaves out) come back too, and only to themselves. RabbitMQ routes a message at most once
 * to a queue, however many bindings lead there.
 */
export async function bindToDelayedDelivery(channel: Channel, binding: QueueBinding): Promise<void> {
  const key = deliveryBindingKey(delayTargetKey(binding));
  // The exchange alone (cheap), so that a queue can be bound before any level exists.
  await channel.assertExchange(DELAYED_DELIVERY_EXCHANGE, 'topic', { durable: true, autoDelete: false });
  const ops: Promise<unknown>[] = [channel.bindQueue(binding.queue, DELAYED_DELIVERY_EXCHANGE, key)];
  if (binding.exchange !== '' && binding.exchangeType === 'topic') {
    ops.push(channel.bindExchange(binding.exchange, DELAYED_DELIVERY_EXCHANGE, key));
    ops.push(channel.bindQueue(binding.queue, binding.exchange, key));
  }
  await Promise.all(ops);
}
