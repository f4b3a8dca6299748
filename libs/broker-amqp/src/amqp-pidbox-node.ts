import type { Logger } from '@celeriac/logger';
import { CONTENT_ENCODING, CONTENT_TYPE, type Serializer } from '@celeriac/protocol';
import type { Channel, ConsumeMessage } from 'amqplib';
import { type AmqpControlConnection, amqpHeaders } from './amqp-control-connection.js';
import {
  ExchangeDeclarations,
  PIDBOX_EXCHANGE_OPTIONS,
  type PidboxQueueLimits,
  pidboxQueueOptions,
} from './amqp-pidbox-queues.js';

/** A pidbox message as the control plane reads it (structurally its `PidboxMessage`). */
export interface AmqpPidboxMessage {
  headers: Record<string, unknown>;
  contentType: string;
  body: Buffer;
}

/** A pidbox message to send (structurally the control plane's `PidboxOutgoing`). */
export interface AmqpPidboxOutgoing {
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  deliveryMode: 1 | 2;
  serializer: Serializer;
  body: Buffer;
}

/** A consumed message as the control plane reads it. */
export function pidboxMessageOf(message: ConsumeMessage): AmqpPidboxMessage {
  return {
    headers: (message.properties.headers ?? {}) as Record<string, unknown>,
    contentType: message.properties.contentType ?? 'application/json',
    body: message.content,
  };
}

/** Publishes one pidbox message as kombu does (content type and encoding, headers, delivery mode, priority 0). */
export function publishPidbox(channel: Channel, message: AmqpPidboxOutgoing): void {
  channel.publish(message.exchange, message.routingKey, message.body, {
    contentType: CONTENT_TYPE[message.serializer],
    contentEncoding: CONTENT_ENCODING[message.serializer],
    headers: amqpHeaders(message.headers),
    deliveryMode: message.deliveryMode,
    priority: 0,
  });
}

export interface AmqpPidboxNodeOptions extends PidboxQueueLimits {
  connection: AmqpControlConnection;
  logger: Logger;
}

/**
 * A pidbox node on RabbitMQ, as kombu's `Node.listen`: declares the fanout `celery.pidbox` and the
 * node queue `<hostname>.celery.pidbox` (transient, auto-delete, 300 s message TTL, 10 s expiry),
 * binds them, consumes without acks, and publishes replies to the direct `reply.celery.pidbox` with
 * the client's routing key (a reply nobody waits for is dropped by RabbitMQ, as kombu's is). The
 * structural `PidboxNodeTransport` of @celeriac/control-plane. After a lost connection it
 * declares and consumes again.
 */
export class AmqpPidboxNode {
  private channel: Channel | null = null;
  private exchanges: ExchangeDeclarations | null = null;
  private listening: { queue: string; exchange: string; onRequest: (m: AmqpPidboxMessage) => void } | null = null;
  private removeHook: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly o: AmqpPidboxNodeOptions) {}

  async listen(queue: string, exchange: string, onRequest: (message: AmqpPidboxMessage) => void): Promise<void> {
    this.listening = { queue, exchange, onRequest };
    await this.consume();
    this.removeHook = this.o.connection.onRestored(() => {
      this.consume().catch((err: unknown) => {
        this.o.logger.error(
          { event: 'control.amqp_relisten_failed', queue, err },
          'could not consume the pidbox queue again after the connection came back',
        );
      });
    });
  }

  private async consume(): Promise<void> {
    const target = this.listening;
    if (target === null || this.stopped) return;
    const channel = await this.openChannel();
    const { exchange, queue, onRequest } = target;
    await this.exchanges!.ensure(exchange, 'fanout', PIDBOX_EXCHANGE_OPTIONS);
    const declared = await channel.assertQueue(queue, pidboxQueueOptions(this.o));
    if (declared.consumerCount > 0) {
      // kombu's verify_exclusive: two nodes of one name share (and split) one pidbox queue.
      this.o.logger.warn(
        { event: 'control.duplicate_node', queue, consumers: declared.consumerCount },
        'another node with this name is using the pidbox queue; give every worker a unique -n',
      );
    }
    await channel.bindQueue(queue, exchange, '');
    await channel.consume(
      queue,
      (message) => {
        if (message !== null) onRequest(pidboxMessageOf(message));
      },
      { noAck: true },
    );
  }

  private async openChannel(): Promise<Channel> {
    const channel = await this.o.connection.openChannel();
    channel.on('error', (err: Error) => {
      this.o.logger.warn({ event: 'control.amqp_channel_error', err }, 'the pidbox channel failed');
    });
    channel.on('close', () => {
      if (this.channel === channel) {
        this.channel = null;
        this.exchanges = null;
      }
    });
    this.channel = channel;
    this.exchanges = new ExchangeDeclarations(channel);
    return channel;
  }

  async reply(message: AmqpPidboxOutgoing): Promise<void> {
    if (this.channel === null || this.exchanges === null) await this.openChannel();
    await this.exchanges!.ensure(message.exchange, 'direct', PIDBOX_EXCHANGE_OPTIONS);
    publishPidbox(this.channel!, message);
  }

  /** Cancels the consumer by closing the channel: the auto-delete queue goes, as a Python node's does. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.removeHook?.();
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
  }
}
