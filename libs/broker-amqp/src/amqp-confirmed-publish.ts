import { BrokerError, type ExchangePublish, type QueueBinding } from '@celeriac/broker';
import { type AmqpOutgoing, envelopeToAmqp } from './amqp-envelope.js';
import type { AmqpSession } from './amqp-session.js';

/**
 * Publishes `message` for `queue` through its exchange and routing key on the confirm channel of
 * `s`, resolving on RabbitMQ's confirm; BROKER_COMMAND_FAILED on a nack (the raw error when `s` died).
 */
export function sendConfirmed(
  s: AmqpSession,
  queue: string,
  message: AmqpOutgoing,
  binding: QueueBinding,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // amqplib buffers past the socket's high-water mark; the confirm callback is the flow control.
    s.publish.publish(binding.exchange, binding.routingKey, message.content, message.options, (err) => {
      if (!err) return resolve();
      if (s.lost) return reject(err);
      reject(
        new BrokerError(
          'BROKER_COMMAND_FAILED',
          `RabbitMQ did not confirm a message to queue "${queue}" (nack): it may not be stored`,
          { cause: err },
        ),
      );
    });
  });
}

/**
 * Publishes each entry through `exchange` with `routingKey`, mandatory and confirmed one after the
 * other; resolves with whether RabbitMQ returned any (no queue took it).
 */
export async function publishMandatory(
  s: AmqpSession,
  exchange: string,
  routingKey: string,
  entries: ExchangePublish['entries'],
): Promise<boolean> {
  let back = false;
  const onReturn = () => {
    back = true;
  };
  s.publish.on('return', onReturn);
  try {
    for (const entry of entries) {
      const m = envelopeToAmqp(entry.raw, entry.priority);
      await new Promise<void>((resolve, reject) => {
        s.publish.publish(exchange, routingKey, m.content, { ...m.options, mandatory: true }, (err) =>
          err ? reject(err) : resolve(),
        );
      });
    }
  } finally {
    s.publish.off('return', onReturn);
  }
  return back;
}
