import type { QueueBinding } from '@celeriac/broker';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';

/**
 * One life of the RabbitMQ connection: the connection, its consume and confirm channels, and what
 * was declared and consumed on it. A reconnect makes a new session with the next `generation`;
 * delivery tags carry it, so nothing of a dead session is acked on a live one.
 */
export class AmqpSession {
  lost = false;
  /** The most telling reason of the loss: the first error with a code (CONNECTION_FORCED), else the first. */
  lossReason: Error | null = null;
  /** The basic.qos count last set on the consume channel. */
  qos = 0;
  /** Queues declared on this connection (kombu declares once per connection). */
  readonly declared = new Map<string, Promise<QueueBinding>>();
  /** Consumer tags by queue. */
  readonly consumers = new Map<string, Promise<string>>();
  private declareChannel: Channel | null = null;

  private constructor(
    readonly generation: number,
    readonly connection: ChannelModel,
    readonly urlIndex: number,
    readonly consume: Channel,
    readonly publish: ConfirmChannel,
  ) {}

  /** Opens the consume and confirm channels on `connection` (closing it when that fails). */
  static async open(generation: number, connection: ChannelModel, urlIndex: number): Promise<AmqpSession> {
    try {
      const consume = await connection.createChannel();
      const publish = await connection.createConfirmChannel();
      return new AmqpSession(generation, connection, urlIndex, consume, publish);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  /** Notes one report of the loss (a connection's close reports on each channel, then on itself). */
  noteLoss(error: Error): void {
    const coded = (e: Error | null) => e !== null && (e as { code?: unknown }).code !== undefined;
    if (this.lossReason === null || (!coded(this.lossReason) && coded(error))) this.lossReason = error;
  }

  /** A channel for declarations: a refused one (PRECONDITION_FAILED) closes only it, and the next call opens another. */
  async channelForDeclare(): Promise<Channel> {
    if (this.declareChannel === null) {
      const channel = await this.connection.createChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.declareChannel === channel) this.declareChannel = null;
      });
      this.declareChannel = channel;
    }
    return this.declareChannel;
  }

  /** Closes the connection quietly (messages not acked go back to their queues). */
  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
