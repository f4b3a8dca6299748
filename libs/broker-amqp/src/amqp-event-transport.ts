import type { Channel } from 'amqplib';
import { type AmqpControlConnection, amqpHeaders } from './amqp-control-connection.js';

/** One event message (structurally the control plane's `EventMessage`): its body's JSON text. */
export interface AmqpEventMessage {
  routingKey: string;
  body: string;
  /** The text is escaped for a JSON string; a dispatcher writes it so only for a transport with `bodyInString`. */
  inString?: boolean;
}

/**
 * Celery events on RabbitMQ: basic.publish to the topic exchange `celeryev` (durable, as Celery's
 * `Exchange('celeryev', type='topic')`, so a Python receiver's own declare matches) with the
 * routing key of the event (`worker.heartbeat`, `task.multi`), the JSON body as bytes, content type
 * `application/json`, encoding `utf-8`, the `hostname` header, transient delivery and priority 0,
 * as a Python worker's dispatcher sends them. The structural `EventTransport` of @celeriac/control-plane.
 */
export class AmqpEventTransport {
  /** Task-event lists come as plain JSON text: AMQP carries the body's bytes. */
  readonly bodyInString = false;
  private channel: Promise<Channel> | null = null;
  private readonly declared = new Set<string>();

  constructor(private readonly o: { connection: AmqpControlConnection; ownsConnection?: boolean }) {}

  private open(): Promise<Channel> {
    this.channel ??= this.o.connection.openChannel().then(
      (channel) => {
        channel.on('error', () => undefined); // 'close' follows; the next publish opens a new channel
        channel.on('close', () => {
          this.channel = null;
          this.declared.clear();
        });
        return channel;
      },
      (err: unknown) => {
        this.channel = null;
        throw err;
      },
    );
    return this.channel;
  }

  async publish(
    exchange: string,
    messages: readonly AmqpEventMessage[],
    headers: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const channel = await this.open();
    if (!this.declared.has(exchange)) {
      await channel.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
      this.declared.add(exchange);
    }
    const properties = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: amqpHeaders(headers),
      deliveryMode: 1,
      priority: 0,
    };
    let flowing = true;
    for (const { routingKey, body, inString } of messages) {
      const json = inString === true ? (JSON.parse(`"${body}"`) as string) : body;
      flowing = channel.publish(exchange, routingKey, Buffer.from(json, 'utf8'), properties);
    }
    // amqplib buffers what the socket cannot take: wait for it to drain (or the channel to go) rather than grow without bound.
    if (!flowing) {
      await new Promise<void>((resolve) => {
        const done = () => {
          channel.off('drain', done);
          channel.off('close', done);
          resolve();
        };
        channel.once('drain', done);
        channel.once('close', done);
      });
    }
  }

  async close(): Promise<void> {
    const channel = await this.channel?.catch(() => null);
    this.channel = null;
    await channel?.close().catch(() => undefined);
    if (this.o.ownsConnection === true) await this.o.connection.close();
  }
}
