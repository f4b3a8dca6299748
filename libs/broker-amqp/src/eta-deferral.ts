import { BrokerError, type Delivery, type QueueBinding } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { ConsumeMessage, Options } from 'amqplib';
import { type AmqpOutgoing, envelopeToAmqp } from './amqp-envelope.js';
import type { AmqpSession } from './amqp-session.js';
import type { HeldDeliveries } from './held-deliveries.js';
import { DELAY_ENTRY_EXCHANGE, delayable, delayRoutingKey, delayTargetKey } from './native-delayed-delivery.js';

/** One eta message the worker hands to `defer`. */
export interface AmqpDeferItem {
  delivery: Delivery;
  taskId: string;
  /** Due time, epoch ms. */
  dueMs: number;
}

/** The collaborators of `EtaDeferral`. */
export interface EtaDeferralDeps {
  deliveries: HeldDeliveries;
  logger: Logger;
  /** Runs an operation on the live session, again on the next one when it dies under it. */
  onLive: <T>(operation: string, op: (s: AmqpSession) => Promise<T>) => Promise<T>;
  /** Declares a queue on a session (once per session). */
  declare: (s: AmqpSession, queue: string) => Promise<QueueBinding>;
  /** The native delayed delivery ready on a session: the levels declared and the queue bound. */
  delayedDeliveryReady: (s: AmqpSession, binding: QueueBinding) => Promise<void>;
  /** Acks deliveries by tag. */
  ack: (tags: readonly string[]) => Promise<void>;
}

type Moving = { item: AmqpDeferItem; message: AmqpOutgoing };

/** The worker's deferral of eta messages beyond `celeriac_eta_horizon` into Celery 5.5's native delayed delivery. */
export class EtaDeferral {
  constructor(private readonly d: EtaDeferralDeps) {}

  /**
   * The worker's deferral (eta beyond `celeriac_eta_horizon`): each message goes, as RabbitMQ
   * delivered it (body, headers and properties, without `expiration` and `user-id`), into the
   * native delayed delivery with the routing key of its remaining whole seconds (at least 1) and
   * its queue's key, confirmed, then the original is acked: nothing waits unacked on the channel,
   * so RabbitMQ's `consumer_timeout` never closes it. It comes back to its queue as a normal
   * message at most a second early (the worker holds it for the rest). Returns how many moved;
   * a message acked or returned to RabbitMQ meanwhile is left out. A publish RabbitMQ returned
   * (the levels gone) is not acked and fails the call with BROKER_COMMAND_FAILED (the deferral
   * retries; those moved are not sent again). After a connection loss before the
   * confirm the batch goes again on the new connection (a message may be delayed twice).
   */
  async defer(items: readonly AmqpDeferItem[]): Promise<number> {
    const moving: Moving[] = [];
    for (const item of items) {
      const held = this.d.deliveries.peek(item.delivery.deliveryTag);
      if (held === null) continue;
      // An orphan (its channel died, the worker still answers for it): rebuilt from its envelope.
      const message = held === 'orphan' ? envelopeToAmqp(item.delivery.raw) : delayedCopy(held);
      moving.push({ item, message: { content: message.content, options: { ...message.options, mandatory: true } } });
    }
    if (moving.length === 0) return 0;
    const returned = await this.d.onLive('defer', async (s) => {
      const bindings = new Map<string, QueueBinding>();
      for (const queue of new Set(moving.map((m) => m.item.delivery.queue))) {
        const binding = await this.d.declare(s, queue);
        await this.d.delayedDeliveryReady(s, binding);
        bindings.set(queue, binding);
      }
      return sendDelayed(s, moving, bindings);
    });
    const moved = moving.filter((m) => !returned.has(m));
    await this.d.ack(moved.map((m) => m.item.delivery.deliveryTag));
    this.d.logger.debug(
      { event: 'broker.amqp_eta_delayed', count: moved.length, returned: returned.size },
      `Published ${moved.length} eta message(s) into the native delayed delivery and acked them`,
    );
    if (returned.size > 0) {
      const queues = [...new Set([...returned].map((m) => m.item.delivery.queue))].join('", "');
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `RabbitMQ returned ${returned.size} eta message(s) published to ${DELAY_ENTRY_EXCHANGE} for queue "${queues}": ` +
          'no level of the native delayed delivery took them (levels or exchange bindings deleted?); they stay held, unacked',
      );
    }
    return moved.length;
  }
}

/** Publishes each into `celery_delayed_27` (mandatory, confirmed); resolves with those RabbitMQ returned. */
async function sendDelayed<T extends Moving>(
  s: AmqpSession,
  moving: readonly T[],
  bindings: ReadonlyMap<string, QueueBinding>,
): Promise<Set<T>> {
  const returnedIds = new Set<string>();
  const onReturn = (m: ConsumeMessage) => {
    const id = m.properties.headers?.id ?? m.properties.correlationId;
    if (typeof id === 'string') returnedIds.add(id);
  };
  for (const binding of bindings.values()) {
    if (!delayable(binding)) {
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `queue "${binding.queue}" cannot take delayed messages: its routing key and the 28 delay bits exceed AMQP's 255 bytes`,
      );
    }
  }
  s.publish.on('return', onReturn);
  try {
    await Promise.all(
      moving.map(({ item, message }) => {
        const binding = bindings.get(item.delivery.queue) as QueueBinding;
        const routingKey = delayRoutingKey((item.dueMs - Date.now()) / 1000, delayTargetKey(binding));
        return new Promise<void>((resolve, reject) => {
          s.publish.publish(DELAY_ENTRY_EXCHANGE, routingKey, message.content, message.options, (err) => {
            if (!err) return resolve();
            if (s.lost) return reject(err);
            reject(
              new BrokerError(
                'BROKER_COMMAND_FAILED',
                `RabbitMQ did not confirm an eta message into the native delayed delivery (nack): task ${item.taskId} stays held`,
                { cause: err },
              ),
            );
          });
        });
      }),
    );
  } finally {
    s.publish.off('return', onReturn);
  }
  return new Set(moving.filter((m) => returnedIds.has(m.item.taskId)));
}

/**
 * A delivered message as it is published into the delay: its body, headers and properties, but no
 * `expiration` (a per-message TTL would cut its wait in a level short) nor `user-id` (RabbitMQ
 * checks it against this connection's user); mandatory, so a message no level takes comes back.
 */
function delayedCopy(m: ConsumeMessage): AmqpOutgoing {
  const p = m.properties;
  const options: Options.Publish = { headers: p.headers ?? {}, deliveryMode: p.deliveryMode ?? 2, mandatory: true };
  if (p.contentType !== undefined) options.contentType = p.contentType;
  if (p.contentEncoding !== undefined) options.contentEncoding = p.contentEncoding;
  if (p.correlationId !== undefined) options.correlationId = p.correlationId;
  if (p.replyTo !== undefined) options.replyTo = p.replyTo;
  if (p.priority !== undefined) options.priority = p.priority;
  if (p.messageId !== undefined) options.messageId = p.messageId;
  if (p.timestamp !== undefined) options.timestamp = p.timestamp;
  if (p.type !== undefined) options.type = p.type;
  if (p.appId !== undefined) options.appId = p.appId;
  return { content: m.content, options };
}
