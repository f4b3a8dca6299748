import {
  BrokerClosedError,
  BrokerError,
  BrokerQueueNotFoundError,
  BrokerUnroutableError,
  type Delivery,
  deadLetterRecord,
  type ExchangePublish,
  type QueueBinding,
  type TaskBroker,
} from '@celeriac/broker';
import { type Logger, redactUrl } from '@celeriac/logger';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { type AmqpOutgoing, amqpToEnvelope, envelopeToAmqp } from './amqp-envelope.js';
import { amqpConnectOptions } from './amqp-url.js';
import { QueueDeclarations } from './queue-declarations.js';

/** Options of an `AmqpBroker`. */
export interface AmqpBrokerOptions {
  /** `amqp://`, `amqps://` or `pyamqp://` URL (kombu's form: `amqp://user:pass@host:5672/vhost`). */
  url: string;
  logger: Logger;
  /** Celery settings: the queue table (`task_queues`, defaults) and `task_queue_max_priority`. */
  settings?: Readonly<Record<string, unknown>>;
  /** The `basic.qos` prefetch count a consumer starts with (concurrency × prefetch multiplier); default 4. */
  prefetchCount?: number;
  /** AMQP heartbeat in seconds (kombu's `broker_heartbeat`, 120 by default in Celery); 0 = none. */
  heartbeatSec?: number;
  /** Queue of the dead-letter records (same JSON as the Redis broker's list); default `celeriac.dead-letter`. */
  deadLetterQueue?: string;
  /** Longest raw kept whole in a dead-letter record; default 65,536 bytes. */
  deadLetterMaxRawBytes?: number;
}

interface Held {
  message: ConsumeMessage;
  delivery: Delivery;
}

const DEFAULT_DEAD_LETTER_QUEUE = 'celeriac.dead-letter';

/**
 * The RabbitMQ transport, wire-compatible with Celery 5.2 on kombu's pyamqp: queues declared as
 * Celery declares them (durable, bound to their direct exchange, `x-max-priority` where set),
 * consumption with `basic.consume` under a channel-wide `basic.qos` (as Celery on RabbitMQ sets
 * it: `apply_global`), acks by delivery tag, and publisher confirms. It implements the same
 * `TaskBroker` as `RedisBroker`: raws are kombu's envelope JSON both ways.
 *
 * Prefetch: the worker asks for as many messages as it has free slots, and it counts messages
 * held for their eta as free (Celery raises its prefetch count for each). The qos count follows
 * that demand: `max(prefetchCount, handed out + asked and not yet there)`, so eta messages never
 * stall the window.
 */
export class AmqpBroker implements TaskBroker {
  private connection: ChannelModel | null = null;
  private consumeChannel: Channel | null = null;
  private publishChannel: ConfirmChannel | null = null;
  private declareChannel: Channel | null = null;
  private state: 'new' | 'started' | 'closed' = 'new';
  private readonly declarations: QueueDeclarations;
  private readonly declared = new Map<string, Promise<QueueBinding>>();
  private readonly consumers = new Map<string, Promise<string>>();
  private readonly held = new Map<string, Held>();
  private readonly buffer: Delivery[] = [];
  private readonly waiters = new Set<() => void>();
  private qos = 0;
  private readonly baseQos: number;
  private lost: Error | null = null;

  constructor(private readonly o: AmqpBrokerOptions) {
    this.declarations = new QueueDeclarations(o.settings ?? {});
    this.baseQos = Math.max(1, o.prefetchCount ?? 4);
  }

  /** Connects and opens the consume and confirm channels; BROKER_UNAVAILABLE when RabbitMQ cannot be reached. */
  async start(): Promise<void> {
    if (this.state === 'closed') throw new BrokerClosedError('start', 'closed');
    if (this.state === 'started') return;
    try {
      this.connection = await amqp.connect(amqpConnectOptions(this.o.url, this.o.heartbeatSec ?? 120));
      this.consumeChannel = await this.connection.createChannel();
      this.publishChannel = await this.connection.createConfirmChannel();
    } catch (error) {
      await this.connection?.close().catch(() => undefined);
      this.connection = null;
      throw this.unavailable('connect', error);
    }
    this.connection.on('error', (err: Error) => this.onLost(err));
    this.connection.on('close', (err?: Error) => this.onLost(err ?? new Error('connection closed')));
    this.consumeChannel.on('error', (err: Error) => this.onLost(err));
    this.publishChannel.on('error', (err: Error) => this.onLost(err));
    this.consumeChannel.on('close', () => this.onLost(new Error('consume channel closed')));
    await this.setQos(this.baseQos);
    this.state = 'started';
    this.o.logger.debug(
      { event: 'broker.amqp_connected', url: redactUrl(this.o.url), prefetch_count: this.baseQos },
      'Connected to RabbitMQ',
    );
  }

  private onLost(err: Error): void {
    if (this.state === 'closed' || this.lost !== null) return;
    this.lost = err;
    this.o.logger.error(
      { event: 'broker.amqp_connection_lost', url: redactUrl(this.o.url), err },
      'The RabbitMQ connection or channel was lost; unacked messages return to their queues',
    );
    for (const wake of this.waiters) wake();
  }

  private unavailable(operation: string, cause: unknown): BrokerError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return new BrokerError(
      'BROKER_UNAVAILABLE',
      `broker ${operation} failed: RabbitMQ at ${redactUrl(this.o.url)} is unavailable (${detail}); ` +
        'check that RabbitMQ runs, the vhost exists and the user may use it',
      { cause },
    );
  }

  private usable(operation: string): void {
    if (this.state !== 'started') {
      throw new BrokerClosedError(operation, this.state === 'new' ? 'not started' : 'closed');
    }
    if (this.lost !== null) throw this.unavailable(operation, this.lost);
  }

  private async setQos(count: number): Promise<void> {
    if (count === this.qos || this.consumeChannel === null) return;
    this.qos = count;
    // Channel-wide (global) as Celery sets it on RabbitMQ: a new count applies to running consumers at once.
    await this.consumeChannel.prefetch(count, true);
  }

  private async channelForDeclare(): Promise<Channel> {
    if (this.declareChannel === null) {
      const channel = await (this.connection as ChannelModel).createChannel();
      // A refused declaration (PRECONDITION_FAILED) closes only this channel.
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.declareChannel === channel) this.declareChannel = null;
      });
      this.declareChannel = channel;
    }
    return this.declareChannel;
  }

  /** Declares a queue as kombu does (once per connection): its exchange, the durable queue, the binding. */
  private declare(queue: string): Promise<QueueBinding> {
    let done = this.declared.get(queue);
    if (done === undefined) {
      done = this.declareNow(queue);
      this.declared.set(queue, done);
      done.catch(() => this.declared.delete(queue));
    }
    return done;
  }

  private async declareNow(queue: string): Promise<QueueBinding> {
    const decl = this.declarations.of(queue);
    if (decl === undefined) throw new BrokerQueueNotFoundError(queue);
    const { binding, maxPriority } = decl;
    const channel = await this.channelForDeclare();
    try {
      if (binding.exchange !== '') {
        await channel.assertExchange(binding.exchange, binding.exchangeType, { durable: true, autoDelete: false });
      }
      await channel.assertQueue(queue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
        ...(maxPriority !== null ? { arguments: { 'x-max-priority': maxPriority } } : {}),
      });
      if (binding.exchange !== '') await channel.bindQueue(queue, binding.exchange, binding.routingKey);
    } catch (error) {
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `declaring queue "${queue}" on RabbitMQ at ${redactUrl(this.o.url)} failed ` +
          `(${error instanceof Error ? error.message : String(error)}); a queue declared before with other ` +
          'arguments (x-max-priority, durable) must be deleted or declared the same way',
        { cause: error },
      );
    }
    return binding;
  }

  /** Declares each queue the worker consumes (exchange, durable queue, binding), as a Python worker does at start. */
  async declareQueues(queues: readonly string[]): Promise<QueueBinding[]> {
    this.usable('declareQueues');
    return Promise.all(queues.map((q) => this.declare(q)));
  }

  private async send(queue: string, message: AmqpOutgoing, binding: QueueBinding): Promise<void> {
    const channel = this.publishChannel as ConfirmChannel;
    await new Promise<void>((resolve, reject) => {
      // amqplib buffers past the socket's high-water mark; the confirm callback is the flow control.
      channel.publish(binding.exchange, binding.routingKey, message.content, message.options, (err) => {
        if (err)
          reject(
            new BrokerError(
              'BROKER_COMMAND_FAILED',
              `RabbitMQ did not confirm a message to queue "${queue}" (nack): it may not be stored`,
              { cause: err },
            ),
          );
        else resolve();
      });
    });
  }

  /** Publishes one envelope to `queue` (through its exchange and routing key) and waits for the confirm. */
  async publish(queue: string, raw: string, priority?: number): Promise<void> {
    await this.publishMany([{ queue, raw, ...(priority !== undefined ? { priority } : {}) }]);
  }

  /** Publishes every item (queues declared first, once) and resolves when RabbitMQ confirmed them all. */
  async publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void> {
    this.usable('publish');
    const bindings = await Promise.all([...new Set(items.map((i) => i.queue))].map((q) => this.declare(q)));
    const byQueue = new Map(bindings.map((b) => [b.queue, b]));
    await Promise.all(
      items.map((item) =>
        this.send(item.queue, envelopeToAmqp(item.raw, item.priority), byQueue.get(item.queue) as QueueBinding),
      ),
    );
  }

  /**
   * Publishes through a named exchange (mandatory, so a message no queue takes comes back):
   * BROKER_UNROUTABLE where kombu would drop it, as the Redis broker does.
   */
  async publishToExchange(p: ExchangePublish): Promise<{ queues: string[] }> {
    this.usable('publishToExchange');
    const type = p.exchangeType ?? 'direct';
    const channel = this.publishChannel as ConfirmChannel;
    await (await this.channelForDeclare()).assertExchange(p.exchange, type, { durable: true, autoDelete: false });
    let returned = false;
    const onReturn = () => {
      returned = true;
    };
    channel.on('return', onReturn);
    try {
      for (const entry of p.entries) {
        const m = envelopeToAmqp(entry.raw, entry.priority);
        await new Promise<void>((resolve, reject) => {
          channel.publish(p.exchange, p.routingKey, m.content, { ...m.options, mandatory: true }, (err) =>
            err ? reject(err) : resolve(),
          );
        });
      }
    } finally {
      channel.off('return', onReturn);
    }
    if (returned) throw new BrokerUnroutableError(p.exchange, p.routingKey, type);
    return { queues: [] };
  }

  private async consume(queue: string): Promise<void> {
    let started = this.consumers.get(queue);
    if (started === undefined) {
      started = this.declare(queue).then(async () => {
        const reply = await (this.consumeChannel as Channel).consume(queue, (m) => this.onMessage(queue, m), {
          noAck: false,
        });
        return reply.consumerTag;
      });
      this.consumers.set(queue, started);
      started.catch(() => this.consumers.delete(queue));
    }
    await started;
  }

  private onMessage(queue: string, m: ConsumeMessage | null): void {
    if (m === null) {
      this.onLost(new Error(`RabbitMQ cancelled the consumer of queue "${queue}"`));
      return;
    }
    const tag = String(m.fields.deliveryTag);
    const delivery: Delivery = {
      raw: amqpToEnvelope(
        {
          content: m.content,
          properties: m.properties,
          exchange: m.fields.exchange,
          routingKey: m.fields.routingKey,
          redelivered: m.fields.redelivered,
        },
        tag,
      ),
      queue,
      deliveryTag: tag,
    };
    this.held.set(tag, { message: m, delivery });
    this.buffer.push(delivery);
    for (const wake of this.waiters) wake();
  }

  private take(queues: readonly string[], max: number): Delivery[] {
    const out: Delivery[] = [];
    const wanted = new Set(queues);
    for (let i = 0; i < this.buffer.length && out.length < max; ) {
      const d = this.buffer[i] as Delivery;
      if (wanted.has(d.queue)) {
        out.push(d);
        this.buffer.splice(i, 1);
      } else i++;
    }
    return out;
  }

  private handedOut(): number {
    return this.held.size - this.buffer.length;
  }

  /** Up to `max` of the messages RabbitMQ delivered (consumers start on first call); raises or lowers the qos to the demand. */
  async fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    this.usable('fetchBatch');
    await Promise.all(queues.map((q) => this.consume(q)));
    const out = this.take(queues, max);
    // Room for what was asked and not there yet, beside everything handed out (eta messages included).
    await this.setQos(Math.max(this.baseQos, this.handedOut() + max - out.length));
    return out;
  }

  /** One delivery, waiting up to `timeoutSec` for RabbitMQ to push one; null on timeout or close. */
  async waitForOne(queues: readonly string[], timeoutSec: number): Promise<Delivery | null> {
    this.usable('waitForOne');
    await Promise.all(queues.map((q) => this.consume(q)));
    if (this.handedOut() + 1 > this.qos) await this.setQos(this.handedOut() + 1);
    const now = this.take(queues, 1);
    if (now.length > 0) return now[0] as Delivery;
    return new Promise<Delivery | null>((resolve) => {
      const finish = (d: Delivery | null) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(d);
      };
      const wake = () => {
        if (this.state !== 'started' || this.lost !== null) return finish(null);
        const got = this.take(queues, 1);
        if (got.length > 0) finish(got[0] as Delivery);
      };
      const timer = setTimeout(() => finish(null), timeoutSec * 1000);
      this.waiters.add(wake);
    });
  }

  private release(tag: string): ConsumeMessage | null {
    const h = this.held.get(tag);
    if (h === undefined) return null;
    this.held.delete(tag);
    return h.message;
  }

  /** basic.ack of each tag (a tag this broker does not hold is skipped: acking it would close the channel). */
  async ack(tags: readonly string[]): Promise<void> {
    if (this.lost !== null || this.consumeChannel === null) return;
    for (const tag of tags) {
      const m = this.release(tag);
      if (m !== null) this.consumeChannel.ack(m);
    }
  }

  /** basic.nack with requeue: RabbitMQ puts each back at its place, marked redelivered. */
  async requeue(deliveries: readonly Delivery[]): Promise<number> {
    if (this.lost !== null || this.consumeChannel === null) return 0;
    let n = 0;
    for (const d of deliveries) {
      const m = this.release(d.deliveryTag);
      if (m === null) continue;
      this.consumeChannel.nack(m, false, true);
      n++;
    }
    return n;
  }

  /**
   * Stores the dead-letter record (the Redis broker's JSON) on the durable `celeriac.dead-letter`
   * queue, confirmed, then acks the message.
   */
  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    this.usable('deadLetter');
    const queue = this.o.deadLetterQueue ?? DEFAULT_DEAD_LETTER_QUEUE;
    const record = deadLetterRecord(delivery, reason, {}, this.o.deadLetterMaxRawBytes ?? 65_536);
    await (await this.channelForDeclare()).assertQueue(queue, { durable: true, autoDelete: false });
    await this.send(
      queue,
      { content: Buffer.from(record, 'utf8'), options: { contentType: 'application/json', deliveryMode: 2 } },
      { queue, exchange: '', exchangeType: 'direct', routingKey: queue },
    );
    await this.ack([delivery.deliveryTag]);
  }

  /** RabbitMQ returns a dead consumer's unacked messages itself (on channel close): nothing to restore. */
  async restoreVisibilityTimeout(): Promise<number> {
    return 0;
  }

  /** Closes the connection; messages delivered and not acked go back to their queues (idempotent). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const wake of this.waiters) wake();
    const connection = this.connection;
    this.connection = null;
    if (connection !== null && this.lost === null) await connection.close().catch(() => undefined);
  }
}
