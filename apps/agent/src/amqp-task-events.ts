import { randomUUID } from 'node:crypto';
import { AmqpControlConnection } from '@celeriac/broker-amqp';
import { type Logger, redactUrl } from '@celeriac/logger';
import type { BrokerSettings } from './broker-connection-key.js';

/** The `celeryev` exchange as Celery declares it (`Exchange('celeryev', type='topic')`: durable). */
const EVENT_EXCHANGE = 'celeryev';
/** Task events only (`task.received`, `task.succeeded`, … and batches as `task.multi`). */
const TASK_EVENTS_KEY = 'task.#';
/** Celery 5.2's `event_queue_ttl` (5 s) and `event_queue_expires` (60 s) of a receiver's queue, in ms. */
const EVENT_QUEUE_TTL_MS = 5_000;
const EVENT_QUEUE_EXPIRES_MS = 60_000;

type Channel = Awaited<ReturnType<AmqpControlConnection['openChannel']>>;

/**
 * Celery's task events on a RabbitMQ broker, read as Celery's `Receiver` does: an exclusive,
 * auto-deleted `celeryev.<uuid>` queue bound to the durable topic exchange `celeryev` with
 * `task.#`, consumed without acks; each message's JSON body (one event, or a list for
 * `task.multi`) goes to `onEvents`. On a control connection of its own, dialled with the program's
 * `broker_use_ssl` and the rest of its connection settings (as the worker's plane connection is);
 * after a loss it declares
 * and consumes again once the connection is back (or at the next `ensure`). Logs
 * `agent.task_events_unavailable` once when it cannot subscribe.
 */
export class AmqpTaskEvents {
  private readonly connection: AmqpControlConnection;
  private channel: Channel | null = null;
  private subscribing: Promise<void> | null = null;
  private closed = false;
  private saidUndecodable = false;
  /** The last subscribe failed (and said so). */
  private failing = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly onEvents: (events: unknown[]) => void,
    settings: BrokerSettings = {},
  ) {
    this.connection = new AmqpControlConnection({
      url,
      settings,
      logger,
      connectionName: 'celeriac agent task events',
    });
    this.connection.onRestored(() => void this.ensure());
  }

  /** Declares, binds and consumes unless that is done or under way; never rejects. */
  ensure(): Promise<void> {
    if (this.closed || this.channel !== null) return Promise.resolve();
    this.subscribing ??= this.subscribe().finally(() => {
      this.subscribing = null;
    });
    return this.subscribing;
  }

  private async subscribe(): Promise<void> {
    let channel: Channel | undefined;
    try {
      channel = await this.connection.openChannel();
      channel.on('error', () => undefined); // 'close' follows
      const opened = channel;
      channel.on('close', () => {
        if (this.channel === opened) this.channel = null;
      });
      await channel.assertExchange(EVENT_EXCHANGE, 'topic', { durable: true, autoDelete: false });
      const queue = `celeryev.${randomUUID()}`;
      await channel.assertQueue(queue, {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { 'x-message-ttl': EVENT_QUEUE_TTL_MS, 'x-expires': EVENT_QUEUE_EXPIRES_MS },
      });
      await channel.bindQueue(queue, EVENT_EXCHANGE, TASK_EVENTS_KEY);
      await channel.consume(
        queue,
        (message) => {
          if (message !== null) this.onMessage(message.content);
        },
        { noAck: true },
      );
      if (this.closed) {
        await channel.close().catch(() => undefined);
        return;
      }
      this.channel = channel;
      this.failing = false;
    } catch (err) {
      await channel?.close().catch(() => undefined);
      if (this.closed || this.failing) return;
      this.failing = true; // said once per outage: the worker probe calls again every few seconds
      this.logger.warn(
        { event: 'agent.task_events_unavailable', broker: redactUrl(this.url), err },
        'cannot consume Celery task events from RabbitMQ; Python programs report inspect stats totals until it can',
      );
    }
  }

  private onMessage(content: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(content.toString('utf8'));
    } catch {
      // Not JSON: an event_serializer other than Celery's default json. Said once, not per event.
      if (!this.saidUndecodable) {
        this.saidUndecodable = true;
        this.logger.warn(
          { event: 'agent.task_events_undecodable', broker: redactUrl(this.url) },
          'a Celery task event on RabbitMQ is not JSON (event_serializer?); such events are not counted',
        );
      }
      return;
    }
    this.onEvents(Array.isArray(body) ? body : [body]);
  }

  /** Stops consuming and closes the connection (RabbitMQ drops the exclusive queue). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.subscribing;
    const channel = this.channel;
    this.channel = null;
    await channel?.close().catch(() => undefined);
    await this.connection.close();
  }
}
