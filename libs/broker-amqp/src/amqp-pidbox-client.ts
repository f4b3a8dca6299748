import type { Logger } from '@celeriac/logger';
import type { Channel } from 'amqplib';
import type { AmqpControlConnection } from './amqp-control-connection.js';
import { type AmqpPidboxMessage, type AmqpPidboxOutgoing, pidboxMessageOf, publishPidbox } from './amqp-pidbox-node.js';
import {
  ExchangeDeclarations,
  PIDBOX_EXCHANGE_OPTIONS,
  type PidboxQueueLimits,
  pidboxQueueOptions,
} from './amqp-pidbox-queues.js';

export interface AmqpPidboxClientOptions extends PidboxQueueLimits {
  connection: AmqpControlConnection;
  logger: Logger;
  /** Close the connection with the client (a connection of its own); default false. */
  ownsConnection?: boolean;
}

/**
 * A pidbox client on RabbitMQ, as kombu's Mailbox: requests go to the fanout `celery.pidbox`
 * (declared transient), replies come to the client's own `<oid>.reply.celery.pidbox` queue, bound
 * to the direct `reply.celery.pidbox` with routing key `<oid>`, declared before the first request
 * that wants replies and consumed without acks for the client's life (auto-delete: RabbitMQ drops
 * it when the client goes). The structural `PidboxClientTransport` of @celeriac/control-plane.
 */
export class AmqpPidboxClient {
  private channel: Channel | null = null;
  private exchanges: ExchangeDeclarations | null = null;
  private consuming: string | null = null;
  private readonly replies: AmqpPidboxMessage[] = [];
  private wake: (() => void) | null = null;
  private aborted = false;
  private closed = false;

  constructor(private readonly o: AmqpPidboxClientOptions) {}

  private async ready(): Promise<{ channel: Channel; exchanges: ExchangeDeclarations }> {
    if (this.channel === null || this.exchanges === null) {
      const channel = await this.o.connection.openChannel();
      channel.on('error', (err: Error) => {
        this.o.logger.warn({ event: 'control.amqp_channel_error', err }, 'the pidbox client channel failed');
      });
      channel.on('close', () => {
        if (this.channel !== channel) return;
        this.channel = null;
        this.exchanges = null;
        this.consuming = null;
      });
      this.channel = channel;
      this.exchanges = new ExchangeDeclarations(channel);
    }
    return { channel: this.channel, exchanges: this.exchanges! };
  }

  async openReplies(queue: string, exchange: string, oid: string): Promise<void> {
    const { channel, exchanges } = await this.ready();
    if (this.consuming === queue) return;
    await exchanges.ensure(exchange, 'direct', PIDBOX_EXCHANGE_OPTIONS);
    await channel.assertQueue(queue, pidboxQueueOptions(this.o));
    await channel.bindQueue(queue, exchange, oid);
    await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        this.replies.push(pidboxMessageOf(message));
        this.wake?.();
      },
      { noAck: true },
    );
    this.consuming = queue;
  }

  async publish(message: AmqpPidboxOutgoing): Promise<void> {
    const { channel, exchanges } = await this.ready();
    await exchanges.ensure(message.exchange, 'fanout', PIDBOX_EXCHANGE_OPTIONS);
    publishPidbox(channel, message);
  }

  async nextReply(timeoutMs: number): Promise<AmqpPidboxMessage | null> {
    if (this.replies.length === 0 && !this.aborted && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
    if (this.aborted) return null;
    return this.replies.shift() ?? null;
  }

  /** The reply queue stays for the next broadcast (kombu keeps it for the Mailbox's life); late replies are skipped by ticket. */
  async closeReplies(): Promise<void> {}

  abort(): void {
    this.aborted = true;
    this.wake?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort();
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
    if (this.o.ownsConnection === true) await this.o.connection.close();
  }
}
