import {
  BrokerUnroutableError,
  DEFAULT_DEAD_LETTER_MAX_ENTRIES,
  DEFAULT_DEAD_LETTER_MAX_RAW_BYTES,
  type Delivery,
  deadLetterRecord,
  type ExchangePublish,
  type QueueBinding,
  type TaskBroker,
} from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { publishMandatory, sendConfirmed } from './amqp-confirmed-publish.js';
import type { AmqpConnectionChange, AmqpConnectionState } from './amqp-connection-status.js';
import { connectTimeoutMsOf } from './amqp-connector.js';
import { AmqpConsumption } from './amqp-consumption.js';
import { AmqpDeclarer } from './amqp-declarer.js';
import { envelopeToAmqp } from './amqp-envelope.js';
import { type FailoverStrategy, parseFailoverStrategy } from './amqp-failover.js';
import { type AmqpReconnectPolicy, reconnectPolicyOf } from './amqp-reconnect.js';
import { AmqpSessionLifecycle } from './amqp-session-lifecycle.js';
import { parseAmqpUseSsl } from './amqp-tls-options.js';
import { parseAmqpUrlList } from './amqp-url.js';
import { AMQP_DEAD_LETTER_QUEUE, DeadLetterQueue } from './dead-letter-queue.js';
import { DelayedDeliveryReadiness } from './delayed-delivery-readiness.js';
import { type AmqpDeferItem, EtaDeferral } from './eta-deferral.js';
import { HeldDeliveries } from './held-deliveries.js';
import { delayQueueTypeOf } from './native-delayed-delivery.js';
import { QueueDeclarations } from './queue-declarations.js';

export type { AmqpDeferItem } from './eta-deferral.js';

/** Options of an `AmqpBroker`. */
export interface AmqpBrokerOptions {
  /** `amqp://`, `amqps://` or `pyamqp://` URL (kombu's form: `amqp://user:pass@host:5672/vhost`), or a `;`-separated failover list. */
  url: string;
  logger: Logger;
  /** Celery settings: the queue table (`task_queues`, defaults, queue types) and `task_queue_max_priority`. */
  settings?: Readonly<Record<string, unknown>>;
  /** The `basic.qos` prefetch count a consumer starts with (concurrency × prefetch multiplier); default 4. */
  prefetchCount?: number;
  /** AMQP heartbeat in seconds (kombu's `broker_heartbeat`, 120 by default in Celery); 0 = none. */
  heartbeatSec?: number;
  /** Queue of the dead-letter records (same JSON as the Redis broker's list); default `celeriac.dead-letter`. */
  deadLetterQueue?: string;
  /** Longest raw kept whole in a dead-letter record; default 65,536 bytes. */
  deadLetterMaxRawBytes?: number;
  /** Records the dead-letter queue keeps, the oldest dropped (`celeriac_dead_letter_max_entries`); default 10,000, 0 = no cap. */
  deadLetterMaxEntries?: number;
  /** After a loss; default from the settings' `broker_connection_retry` / `broker_connection_max_retries` (Celery's: on, 100). */
  reconnect?: AmqpReconnectPolicy;
  /** Over a URL list; default the settings' `broker_failover_strategy`, else round-robin. */
  failoverStrategy?: FailoverStrategy;
  /** `broker_use_ssl` (kombu's pyamqp dict, or true); default the settings'. */
  useSsl?: unknown;
}

/**
 * The RabbitMQ transport, wire-compatible with Celery 5.2 on kombu's pyamqp: queues declared as
 * Celery declares them (durable, bound to their direct exchange, `x-max-priority` where set,
 * quorum where asked), consumption with `basic.consume` under a channel-wide `basic.qos` (as
 * Celery on RabbitMQ sets it: `apply_global`; per consumer when a quorum queue is consumed, as
 * Celery 5.5 does), acks by delivery tag, and publisher confirms. It implements the same
 * `TaskBroker` as `RedisBroker`: raws are kombu's envelope JSON both ways.
 *
 * Prefetch: the worker asks for as many messages as it has free slots, and it counts messages
 * held for their eta as free (Celery raises its prefetch count for each). The qos count follows
 * that demand: `max(prefetchCount, handed out + asked and not yet there)`, so eta messages never
 * stall the window. With a quorum queue in the table the qos is per consumer (RabbitMQ refuses a
 * global one there) and a raise reaches no running consumer: each consumer gets `prefetchCount`,
 * and one whose window holds eta messages is started again (basic.cancel, basic.consume), so that
 * they wait outside every window, unacked on the channel (see `ConsumerEtaWindows`). An eta beyond
 * the worker's `celeriac_eta_horizon` is not held: `defer` moves it into Celery 5.5's native delayed
 * delivery (queues bound at their first consume, the levels declared at the first defer, see
 * `native-delayed-delivery.ts`) and acks it.
 *
 * Connection loss (a restart, `stop_app`, a failover): the broker reconnects by itself (the
 * failover list in `broker_failover_strategy` order, kombu's 2, 4 ... 30 s sleeps, at most
 * `broker_connection_max_retries`), declares again what it declared, consumes again with the
 * current qos, and publishes wait for the new connection and go again when their confirm was
 * lost with the old one (a message may then be stored twice; one RabbitMQ confirmed is never
 * lost). Deliveries of the dead channel stay the worker's: their acks never reach the new channel
 * (see `OrphanedDeliveries`). `onConnectionChange` reports each state; on `failed` the worker
 * should stop, as Celery's does when its retries are spent.
 */
export class AmqpBroker implements TaskBroker {
  private readonly sessions: AmqpSessionLifecycle;
  private readonly declarer: AmqpDeclarer;
  private readonly consumption: AmqpConsumption;
  private readonly deferral: EtaDeferral;
  private baseQos: number;
  private readonly perConsumerQos: () => boolean;
  private readonly deadLetters: DeadLetterQueue;

  constructor(private readonly o: AmqpBrokerOptions) {
    const settings = o.settings ?? {};
    this.deadLetters = new DeadLetterQueue(
      o.deadLetterQueue ?? AMQP_DEAD_LETTER_QUEUE,
      o.deadLetterMaxEntries ?? DEFAULT_DEAD_LETTER_MAX_ENTRIES,
      o.logger,
    );
    const declarations = new QueueDeclarations(settings);
    this.perConsumerQos = () => declarations.hasQuorum();
    const delayQueueType = delayQueueTypeOf(settings);
    this.baseQos = Math.max(1, o.prefetchCount ?? 4);
    const policy = o.reconnect ?? reconnectPolicyOf(settings);
    const endpoints = {
      urls: parseAmqpUrlList(o.url),
      strategy: o.failoverStrategy ?? parseFailoverStrategy(settings.broker_failover_strategy),
      tls: parseAmqpUseSsl(o.useSsl ?? settings.broker_use_ssl),
      heartbeatSec: o.heartbeatSec ?? 120,
      connectTimeoutMs: connectTimeoutMsOf(settings.broker_connection_timeout),
    };
    const deliveries = new HeldDeliveries();
    this.sessions = new AmqpSessionLifecycle(endpoints, policy, o.logger, {
      setUp: async (s) => {
        await this.consumption.applyBaseQos(s);
        await this.declarer.redeclare(s);
        await this.consumption.consumeAgain(s);
      },
      abandoned: () => deliveries.forgetChannel(),
      lost: () => deliveries.channelLost(),
      wake: () => this.consumption.wakeAll(),
    });
    const urlOf = () => this.sessions.currentUrl();
    this.declarer = new AmqpDeclarer(declarations, urlOf);
    const readiness = new DelayedDeliveryReadiness(delayQueueType, o.logger, urlOf);
    this.consumption = new AmqpConsumption({
      sessions: this.sessions,
      deliveries,
      logger: o.logger,
      baseQos: () => this.baseQos,
      perConsumerQos: this.perConsumerQos,
      declare: (s, queue) => this.declarer.declare(s, queue),
      bindDelayed: (s, binding) => readiness.ready(s, binding, false),
    });
    this.deferral = new EtaDeferral({
      deliveries,
      logger: o.logger,
      onLive: (operation, op) => this.sessions.onLive(operation, op),
      declare: (s, queue) => this.declarer.declare(s, queue),
      delayedDeliveryReady: (s, binding) => readiness.ready(s, binding, true),
      ack: (tags) => this.consumption.ack(tags),
    });
  }

  /** The connection's state (see `AmqpConnectionState`). */
  get state(): AmqpConnectionState {
    return this.sessions.state;
  }

  /** Calls `listener` on every state change; returns the unsubscribe. */
  onConnectionChange(listener: (change: AmqpConnectionChange) => void): () => void {
    return this.sessions.onChange(listener);
  }

  /**
   * Connects (the first URL of the failover list that answers) and opens the consume and confirm
   * channels; BROKER_UNAVAILABLE when no RabbitMQ can be reached (the worker retries start-up as
   * Celery does), AMQP_TLS_CERTIFICATE when TLS refused the server.
   */
  async start(): Promise<void> {
    if (!(await this.sessions.start())) return;
    this.o.logger.debug(
      { event: 'broker.amqp_connected', url: this.sessions.currentUrl(), prefetch_count: this.baseQos },
      'Connected to RabbitMQ',
    );
  }

  /** Declares each queue the worker consumes (exchange, durable queue, binding), as a Python worker does at start. */
  async declareQueues(queues: readonly string[]): Promise<QueueBinding[]> {
    const s = await this.sessions.live('declareQueues');
    return Promise.all(queues.map((q) => this.declarer.declare(s, q)));
  }

  /** Publishes one envelope to `queue` (through its exchange and routing key) and waits for the confirm. */
  async publish(queue: string, raw: string, priority?: number): Promise<void> {
    await this.publishMany([{ queue, raw, ...(priority !== undefined ? { priority } : {}) }]);
  }

  /** Publishes every item (queues declared first, once) and resolves when RabbitMQ confirmed them all. */
  async publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void> {
    const messages = items.map((i) => ({ queue: i.queue, message: envelopeToAmqp(i.raw, i.priority) }));
    await this.sessions.onLive('publish', async (s) => {
      const bindings = await Promise.all(
        [...new Set(items.map((i) => i.queue))].map((q) => this.declarer.declare(s, q)),
      );
      const byQueue = new Map(bindings.map((b) => [b.queue, b]));
      await Promise.all(
        messages.map((m) => sendConfirmed(s, m.queue, m.message, byQueue.get(m.queue) as QueueBinding)),
      );
    });
  }

  /**
   * Publishes through a named exchange (mandatory, so a message no queue takes comes back):
   * BROKER_UNROUTABLE where kombu would drop it, as the Redis broker does.
   */
  async publishToExchange(p: ExchangePublish): Promise<{ queues: string[] }> {
    const type = p.exchangeType ?? 'direct';
    const returned = await this.sessions.onLive('publishToExchange', async (s) => {
      await this.declarer.declareExchange(s, p.exchange, type);
      return publishMandatory(s, p.exchange, p.routingKey, p.entries);
    });
    if (returned) throw new BrokerUnroutableError(p.exchange, p.routingKey, type);
    return { queues: [] };
  }

  /**
   * The worker's new prefetch limit (pool_grow / pool_shrink): the floor of the channel-wide qos
   * from the next fetch on. With a quorum queue the qos is per consumer: a running consumer keeps
   * its window until it starts again, which is logged.
   */
  setPrefetchCount(count: number): void {
    const next = Math.max(1, Math.floor(count));
    if (next === this.baseQos) return;
    this.o.logger.info(
      {
        event: 'broker.amqp_prefetch_changed',
        from: this.baseQos,
        prefetch_count: next,
        per_consumer: this.perConsumerQos(),
      },
      this.perConsumerQos()
        ? `prefetch count ${next}: per-consumer qos (a quorum queue), so consumers take it when they next start`
        : `prefetch count ${next} from the next fetch`,
    );
    this.baseQos = next;
  }

  /** Up to `max` of the messages RabbitMQ delivered (consumers start on first call); raises or lowers the qos to the demand. */
  fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    return this.consumption.fetchBatch(queues, max);
  }

  /** One delivery, waiting up to `timeoutSec` for RabbitMQ to push one (or to be reconnected); null on timeout or close. */
  waitForOne(queues: readonly string[], timeoutSec: number): Promise<Delivery | null> {
    return this.consumption.waitForOne(queues, timeoutSec);
  }

  /** basic.ack of the tags, as few frames as exact acks allow (see `AmqpConsumption.ack`). */
  ack(tags: readonly string[]): Promise<void> {
    return this.consumption.ack(tags);
  }

  /** basic.nack with requeue: RabbitMQ puts each back at its place, marked redelivered. */
  requeue(deliveries: readonly Delivery[]): Promise<number> {
    return this.consumption.requeue(deliveries);
  }

  /**
   * Stores the dead-letter record (the Redis broker's JSON) on the durable `celeriac.dead-letter`
   * queue (capped at `deadLetterMaxEntries`, the oldest dropped: see DeadLetterQueue), confirmed,
   * then acks the message.
   */
  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const record = deadLetterRecord(
      delivery,
      reason,
      {},
      this.o.deadLetterMaxRawBytes ?? DEFAULT_DEAD_LETTER_MAX_RAW_BYTES,
    );
    await this.sessions.onLive('deadLetter', (s) => this.deadLetters.store(s, record));
    await this.ack([delivery.deliveryTag]);
  }

  /**
   * Moves eta messages beyond `celeriac_eta_horizon` into Celery 5.5's native delayed delivery,
   * confirmed, and acks them; returns how many moved (see `EtaDeferral.defer`).
   */
  defer(items: readonly AmqpDeferItem[]): Promise<number> {
    return this.deferral.defer(items);
  }

  /** RabbitMQ returns a dead consumer's unacked messages itself (on channel close): nothing to restore. */
  async restoreVisibilityTimeout(): Promise<number> {
    return 0;
  }

  /** Closes the connection; messages delivered and not acked go back to their queues (idempotent). */
  close(): Promise<void> {
    return this.sessions.close();
  }
}
