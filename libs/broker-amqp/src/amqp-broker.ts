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
import type { Channel, ConsumeMessage, Options } from 'amqplib';
import { type AmqpConnectionChange, type AmqpConnectionState, AmqpConnectionStatus } from './amqp-connection-status.js';
import { type AmqpEndpoints, connectFirst, connectTimeoutMsOf } from './amqp-connector.js';
import { type AmqpOutgoing, envelopeToAmqp } from './amqp-envelope.js';
import { AmqpError } from './amqp-errors.js';
import { type FailoverStrategy, parseFailoverStrategy } from './amqp-failover.js';
import { type AmqpReconnectPolicy, reconnectPolicyOf, reconnectSleepMs } from './amqp-reconnect.js';
import { AmqpSession } from './amqp-session.js';
import { parseAmqpUseSsl } from './amqp-tls-options.js';
import { parseAmqpUrlList } from './amqp-url.js';
import { coalesceWrites } from './coalesced-writes.js';
import { ConsumerEtaWindows } from './consumer-eta-windows.js';
import { AMQP_DEAD_LETTER_QUEUE, DEFAULT_DEAD_LETTER_MAX_ENTRIES, DeadLetterQueue } from './dead-letter-queue.js';
import { HeldDeliveries } from './held-deliveries.js';
import {
  bindToDelayedDelivery,
  DELAY_ENTRY_EXCHANGE,
  type DelayQueueType,
  declareDelayTopology,
  delayable,
  delayQueueTypeOf,
  delayRoutingKey,
  delayTargetKey,
} from './native-delayed-delivery.js';
import { QueueDeclarations, queueArguments } from './queue-declarations.js';

/** One eta message the worker hands to `defer`. */
export interface AmqpDeferItem {
  delivery: Delivery;
  taskId: string;
  /** Due time, epoch ms. */
  dueMs: number;
}

/** What the native delayed delivery is ready for on one session: the levels, and the queues bound to them. */
interface DelayReadiness {
  topology: Promise<void> | null;
  queues: Map<string, Promise<void>>;
}

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

/** Sessions a publish is tried on before its error is given up to the caller. */
const PUBLISH_ATTEMPTS = 5;

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
  private readonly status: AmqpConnectionStatus;
  private session: AmqpSession | null = null;
  private generation = 0;
  private failure: Error | null = null;
  private readonly endpoints: AmqpEndpoints;
  private readonly policy: AmqpReconnectPolicy;
  private readonly declarations: QueueDeclarations;
  /** Every queue declared and every exchange published through, to declare again after a reconnect. */
  private readonly knownQueues = new Set<string>();
  private readonly knownExchanges = new Map<string, string>();
  private readonly consumedQueues = new Set<string>();
  private readonly deliveries = new HeldDeliveries();
  private readonly waiters = new Set<() => void>();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly baseQos: number;
  /** Per-consumer windows of each session's channel, when a quorum queue makes the qos per consumer. */
  private readonly windows = new WeakMap<AmqpSession, ConsumerEtaWindows>();
  /** `broker_native_delayed_delivery_queue_type`: the queue type of the delay levels. */
  private readonly delayQueueType: DelayQueueType;
  private readonly delayReadiness = new WeakMap<AmqpSession, DelayReadiness>();
  private readonly deadLetters: DeadLetterQueue;

  constructor(private readonly o: AmqpBrokerOptions) {
    const settings = o.settings ?? {};
    this.status = new AmqpConnectionStatus(o.logger);
    this.deadLetters = new DeadLetterQueue(
      o.deadLetterQueue ?? AMQP_DEAD_LETTER_QUEUE,
      o.deadLetterMaxEntries ?? DEFAULT_DEAD_LETTER_MAX_ENTRIES,
      o.logger,
    );
    this.declarations = new QueueDeclarations(settings);
    this.delayQueueType = delayQueueTypeOf(settings);
    this.baseQos = Math.max(1, o.prefetchCount ?? 4);
    this.policy = o.reconnect ?? reconnectPolicyOf(settings);
    this.endpoints = {
      urls: parseAmqpUrlList(o.url),
      strategy: o.failoverStrategy ?? parseFailoverStrategy(settings.broker_failover_strategy),
      tls: parseAmqpUseSsl(o.useSsl ?? settings.broker_use_ssl),
      heartbeatSec: o.heartbeatSec ?? 120,
      connectTimeoutMs: connectTimeoutMsOf(settings.broker_connection_timeout),
    };
  }

  /** The connection's state (see `AmqpConnectionState`). */
  get state(): AmqpConnectionState {
    return this.status.state;
  }

  /** Calls `listener` on every state change; returns the unsubscribe. */
  onConnectionChange(listener: (change: AmqpConnectionChange) => void): () => void {
    return this.status.onChange(listener);
  }

  private setState(state: AmqpConnectionState, extra: { error?: Error; url?: string } = {}): void {
    this.status.set(state, this.generation, extra);
  }

  /**
   * Connects (the first URL of the failover list that answers) and opens the consume and confirm
   * channels; BROKER_UNAVAILABLE when no RabbitMQ can be reached (the worker retries start-up as
   * Celery does), AMQP_TLS_CERTIFICATE when TLS refused the server.
   */
  async start(): Promise<void> {
    if (this.status.state === 'closed') throw new BrokerClosedError('start', 'closed');
    if (this.status.state !== 'new') return;
    try {
      await this.openSession(0);
    } catch (error) {
      throw error instanceof AmqpError ? error : this.unavailable('connect', error);
    }
    this.setState('connected', { url: this.currentUrl() });
    this.o.logger.debug(
      { event: 'broker.amqp_connected', url: this.currentUrl(), prefetch_count: this.baseQos },
      'Connected to RabbitMQ',
    );
  }

  private currentUrl(): string {
    return redactUrl(this.endpoints.urls[this.session?.urlIndex ?? 0] as string);
  }

  /**
   * A new session: connect, channels, qos, and everything declared and consumed before declared and
   * consumed again. It becomes the live one only once all that is done; a loss meanwhile fails it.
   */
  private async openSession(startIndex: number): Promise<void> {
    const { connection, index } = await connectFirst(this.endpoints, startIndex);
    if (!coalesceWrites(connection)) {
      this.o.logger.debug(
        { event: 'broker.amqp_writes_not_coalesced' },
        "This amqplib's connection is not shaped as expected: frames go out one socket write each",
      );
    }
    const s = await AmqpSession.open(this.generation + 1, connection, index);
    s.connection.on('error', (err: Error) => this.lose(s, err));
    s.connection.on('close', (err?: Error) => this.lose(s, err ?? new Error('connection closed')));
    s.consume.on('error', (err: Error) => this.lose(s, err));
    s.publish.on('error', (err: Error) => this.lose(s, err));
    s.consume.on('close', () => this.lose(s, new Error('consume channel closed')));
    s.publish.on('close', () => this.lose(s, new Error('confirm channel closed')));
    this.generation = s.generation;
    try {
      await this.setQos(s, this.baseQos);
      for (const [name, type] of this.knownExchanges) {
        await (await s.channelForDeclare()).assertExchange(name, type, { durable: true, autoDelete: false });
      }
      await Promise.all([...this.knownQueues].map((q) => this.declare(s, q)));
      await Promise.all([...this.consumedQueues].map((q) => this.consume(s, q)));
      if (s.lost) throw new Error('the connection was lost while it was being set up');
    } catch (error) {
      s.lost = true;
      // What it delivered meanwhile goes back to RabbitMQ with it.
      this.deliveries.forgetChannel();
      await s.close();
      throw error;
    }
    this.session = s;
  }

  /** The session `s` died: hand its deliveries to the orphans, then reconnect (or fail, per the retry policy). */
  private lose(s: AmqpSession, err: Error): void {
    s.noteLoss(err);
    if (s.lost) return;
    s.lost = true;
    if (this.session !== s || this.status.state === 'closed') return;
    // Delivered and not handed out: RabbitMQ gives them again; handed out: orphans.
    const orphans = this.deliveries.channelLost();
    void s.close();
    // Logged once the close has run its course (a connection closes its channels before it
    // reports its own reason); a warning, as Celery's consumer logs it: reconnecting is normal.
    setImmediate(() =>
      this.o.logger.warn(
        { event: 'broker.amqp_connection_lost', url: this.currentUrl(), orphans, err: s.lossReason ?? err },
        'The RabbitMQ connection or channel was lost; unacked messages return to their queues; reconnecting',
      ),
    );
    for (const wake of this.waiters) wake();
    if (!this.policy.retry) {
      this.fail(new Error('broker_connection_retry is off, not reconnecting', { cause: err }));
      return;
    }
    this.setState('reconnecting', { error: err });
    this.retry((s.urlIndex + 1) % this.endpoints.urls.length, 0);
  }

  private retry(startIndex: number, retries: number): void {
    this.openSession(startIndex).then(
      () => {
        if (this.status.state === 'closed') {
          void this.session?.close();
          return;
        }
        this.o.logger.info(
          { event: 'broker.amqp_reconnected', url: this.currentUrl(), retries, generation: this.generation },
          'Reconnected to RabbitMQ; queues declared and consumed again',
        );
        this.setState('connected', { url: this.currentUrl() });
        for (const wake of this.waiters) wake();
      },
      (error: unknown) => {
        if (this.status.state === 'closed') return;
        const err = error instanceof Error ? error : new Error(String(error));
        const max = this.policy.maxRetries;
        if (error instanceof AmqpError || (max !== null && retries >= max)) {
          const why =
            error instanceof AmqpError
              ? err.message
              : `gave up after ${retries} retries (broker_connection_max_retries = ${max})`;
          this.fail(new Error(why, { cause: err }));
          return;
        }
        const sleepMs = reconnectSleepMs(retries + 1);
        this.o.logger.warn(
          { event: 'broker.amqp_reconnect_retry', retries: retries + 1, max_retries: max, sleep_ms: sleepMs, err },
          `Cannot reconnect to RabbitMQ: ${err.message}. Trying again in ${sleepMs / 1000} s (${retries + 1}/${max ?? 'forever'})`,
        );
        this.retryTimer = setTimeout(() => this.retry(startIndex, retries + 1), sleepMs);
      },
    );
  }

  private fail(error: Error): void {
    this.failure = this.unavailable('reconnect', error);
    this.o.logger.error(
      { event: 'broker.amqp_connection_failed', url: this.currentUrl(), err: error },
      `RabbitMQ connection lost for good: ${error.message}`,
    );
    this.setState('failed', { error: this.failure });
    for (const wake of this.waiters) wake();
  }

  private unavailable(operation: string, cause: unknown): BrokerError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const urls = this.endpoints.urls.map((u) => redactUrl(u)).join(';');
    return new BrokerError(
      'BROKER_UNAVAILABLE',
      `broker ${operation} failed: RabbitMQ at ${urls} is unavailable (${detail}); ` +
        'check that RabbitMQ runs, the vhost exists and the user may use it',
      { cause },
    );
  }

  /** The live session, waiting out a reconnect; BROKER_CLOSED / BROKER_UNAVAILABLE when there will be none. */
  private async live(operation: string): Promise<AmqpSession> {
    for (;;) {
      if (this.status.state === 'new') throw new BrokerClosedError(operation, 'not started');
      if (this.status.state === 'closed') throw new BrokerClosedError(operation, 'closed');
      if (this.status.state === 'failed') throw this.unavailable(operation, this.failure);
      const s = this.session;
      if (this.status.state === 'connected' && s !== null && !s.lost) return s;
      if (this.status.state !== 'reconnecting') throw this.unavailable(operation, new Error('not connected'));
      await this.status.outageOver();
    }
  }

  /** The live session without waiting: the consumer backs off on BROKER_UNAVAILABLE while reconnecting. */
  private liveNow(operation: string): AmqpSession {
    if (this.status.state === 'new') throw new BrokerClosedError(operation, 'not started');
    if (this.status.state === 'closed') throw new BrokerClosedError(operation, 'closed');
    const s = this.session;
    if (this.status.state !== 'connected' || s === null || s.lost) {
      throw this.unavailable(operation, this.failure ?? new Error('reconnecting'));
    }
    return s;
  }

  /** Per-consumer qos (a quorum queue in the table): the windows of the consumers of `s`. */
  private windowsOf(s: AmqpSession): ConsumerEtaWindows | null {
    if (!this.declarations.hasQuorum()) return null;
    let w = this.windows.get(s);
    if (w === undefined) {
      w = new ConsumerEtaWindows(`celeriac.${s.generation}`);
      this.windows.set(s, w);
    }
    return w;
  }

  private async setQos(s: AmqpSession, count: number): Promise<void> {
    // Channel-wide (global) as Celery sets it on RabbitMQ: a new count applies to running consumers
    // at once. Quorum queues refuse global qos (540 NOT_IMPLEMENTED closes the connection): with
    // one in the table the count is per consumer, set before each consume (Celery 5.5 does so),
    // and eta messages are moved out of the windows instead (`freeWindows`).
    if (count === s.qos || this.declarations.hasQuorum()) return;
    s.qos = count;
    await s.consume.prefetch(count, true);
  }

  /** Declares a queue as kombu does (once per connection): its exchange, the durable queue, the binding. */
  private declare(s: AmqpSession, queue: string): Promise<QueueBinding> {
    let done = s.declared.get(queue);
    if (done === undefined) {
      done = this.declareNow(s, queue);
      s.declared.set(queue, done);
      done.then(
        () => this.knownQueues.add(queue),
        () => s.declared.delete(queue),
      );
    }
    return done;
  }

  private async declareNow(s: AmqpSession, queue: string): Promise<QueueBinding> {
    const decl = this.declarations.of(queue);
    if (decl === undefined) throw new BrokerQueueNotFoundError(queue);
    const { binding } = decl;
    const channel = await s.channelForDeclare();
    try {
      if (binding.exchange !== '') {
        await channel.assertExchange(binding.exchange, binding.exchangeType, { durable: true, autoDelete: false });
      }
      const args = queueArguments(decl);
      await channel.assertQueue(queue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
        ...(args !== undefined ? { arguments: args } : {}),
      });
      if (binding.exchange !== '') await channel.bindQueue(queue, binding.exchange, binding.routingKey);
    } catch (error) {
      if (s.lost) throw error;
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `declaring queue "${queue}" on RabbitMQ at ${this.currentUrl()} failed ` +
          `(${error instanceof Error ? error.message : String(error)}); a queue declared before with other ` +
          'arguments (x-max-priority, x-queue-type, durable) must be deleted or declared the same way',
        { cause: error },
      );
    }
    return binding;
  }

  /** Declares each queue the worker consumes (exchange, durable queue, binding), as a Python worker does at start. */
  async declareQueues(queues: readonly string[]): Promise<QueueBinding[]> {
    const s = await this.live('declareQueues');
    return Promise.all(queues.map((q) => this.declare(s, q)));
  }

  /**
   * Runs `op` on the live session; when that session dies under it (a lost confirm), again on the
   * next one: at-least-once, a message RabbitMQ confirmed is never lost (it may be stored twice).
   */
  private async onLive<T>(operation: string, op: (s: AmqpSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const s = await this.live(operation);
      try {
        return await op(s);
      } catch (error) {
        if (!s.lost || attempt >= PUBLISH_ATTEMPTS || this.status.state === 'closed') throw error;
        this.o.logger.warn(
          { event: 'broker.amqp_publish_retry', operation, attempt, err: error },
          'The RabbitMQ connection was lost before the confirm; sending again once reconnected',
        );
      }
    }
  }

  private send(s: AmqpSession, queue: string, message: AmqpOutgoing, binding: QueueBinding): Promise<void> {
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

  /** Publishes one envelope to `queue` (through its exchange and routing key) and waits for the confirm. */
  async publish(queue: string, raw: string, priority?: number): Promise<void> {
    await this.publishMany([{ queue, raw, ...(priority !== undefined ? { priority } : {}) }]);
  }

  /** Publishes every item (queues declared first, once) and resolves when RabbitMQ confirmed them all. */
  async publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void> {
    const messages = items.map((i) => ({ queue: i.queue, message: envelopeToAmqp(i.raw, i.priority) }));
    await this.onLive('publish', async (s) => {
      const bindings = await Promise.all([...new Set(items.map((i) => i.queue))].map((q) => this.declare(s, q)));
      const byQueue = new Map(bindings.map((b) => [b.queue, b]));
      await Promise.all(messages.map((m) => this.send(s, m.queue, m.message, byQueue.get(m.queue) as QueueBinding)));
    });
  }

  /**
   * Publishes through a named exchange (mandatory, so a message no queue takes comes back):
   * BROKER_UNROUTABLE where kombu would drop it, as the Redis broker does.
   */
  async publishToExchange(p: ExchangePublish): Promise<{ queues: string[] }> {
    const type = p.exchangeType ?? 'direct';
    const returned = await this.onLive('publishToExchange', async (s) => {
      await (await s.channelForDeclare()).assertExchange(p.exchange, type, { durable: true, autoDelete: false });
      this.knownExchanges.set(p.exchange, type);
      let back = false;
      const onReturn = () => {
        back = true;
      };
      s.publish.on('return', onReturn);
      try {
        for (const entry of p.entries) {
          const m = envelopeToAmqp(entry.raw, entry.priority);
          await new Promise<void>((resolve, reject) => {
            s.publish.publish(p.exchange, p.routingKey, m.content, { ...m.options, mandatory: true }, (err) =>
              err ? reject(err) : resolve(),
            );
          });
        }
      } finally {
        s.publish.off('return', onReturn);
      }
      return back;
    });
    if (returned) throw new BrokerUnroutableError(p.exchange, p.routingKey, type);
    return { queues: [] };
  }

  private async consume(s: AmqpSession, queue: string): Promise<void> {
    this.consumedQueues.add(queue);
    let started = s.consumers.get(queue);
    if (started === undefined) {
      // Bound to the delayed delivery before the first message: what is delayed for it must find its way back.
      started = this.declare(s, queue)
        .then((binding) => this.delayedDeliveryFor(s, binding, false))
        .then(() => this.startConsumer(s, queue));
      s.consumers.set(queue, started);
      started.catch(() => s.consumers.delete(queue));
    }
    await started;
  }

  /** basic.consume of `queue`; with per-consumer qos after basic.qos(prefetchCount, false), under a tag of ours. */
  private async startConsumer(s: AmqpSession, queue: string): Promise<string> {
    const windows = this.windowsOf(s);
    if (windows !== null) {
      await s.consume.prefetch(this.baseQos, false);
      s.qos = this.baseQos;
    }
    // amqplib dispatches deliveries that follow the consume-ok before this function resumes: the tag is known first.
    const consumerTag = windows?.nextConsumer(queue);
    const reply = await s.consume.consume(queue, (m) => this.onMessage(s, queue, m), {
      noAck: false,
      ...(consumerTag !== undefined ? { consumerTag } : {}),
    });
    return reply.consumerTag;
  }

  /**
   * Per-consumer qos: starts again each consumer of `queues` whose window holds eta messages
   * (basic.cancel, then basic.qos and basic.consume). RabbitMQ delivers everything it sent before
   * the cancel-ok to the old consumer (amqplib unregisters it only then), keeps its unacked
   * messages on the channel outside every window, and takes their acks and nacks as before: the
   * eta messages wait there, and the new consumer's window is all free. A restart in progress
   * makes `consume` wait for the new consumer.
   */
  private async freeWindows(s: AmqpSession, queues: readonly string[]): Promise<void> {
    const windows = this.windowsOf(s);
    if (windows === null) return;
    const restarts: Promise<unknown>[] = [];
    for (const queue of queues) {
      const eta = windows.etaIn(queue);
      const previous = s.consumers.get(queue);
      if (eta === 0 || previous === undefined || !windows.beginRestart(queue)) continue;
      const next = previous
        .then((tag) => s.consume.cancel(tag))
        .then(() => this.startConsumer(s, queue))
        .finally(() => windows.endRestart(queue));
      s.consumers.set(queue, next);
      next.catch(() => s.consumers.delete(queue));
      restarts.push(
        next.then((tag) =>
          this.o.logger.debug(
            { event: 'broker.amqp_consumer_restarted', queue, eta_held: eta, consumer_tag: tag },
            'Consumer started again: its eta messages wait outside the per-consumer qos window',
          ),
        ),
      );
    }
    await Promise.all(restarts);
  }

  private onMessage(s: AmqpSession, queue: string, m: ConsumeMessage | null): void {
    if (s.lost) return;
    if (m === null) {
      this.lose(s, new Error(`RabbitMQ cancelled the consumer of queue "${queue}"`));
      return;
    }
    const got = this.deliveries.receive(s.generation, queue, m);
    if (got.action === 'ack') {
      s.consume.ack(m);
      this.o.logger.info(
        { event: 'broker.amqp_redelivery_settled', task_id: got.taskId, queue },
        'A redelivered task already finished while the connection was down: acked, not run again',
      );
    } else if (got.action === 'park') {
      this.o.logger.info(
        { event: 'broker.amqp_redelivery_parked', task_id: got.taskId, queue },
        'A redelivered task still runs from the lost connection: held until that run ends',
      );
    } else {
      for (const wake of this.waiters) wake();
    }
    if (got.action !== 'ack') this.windows.get(s)?.delivered(queue, m);
  }

  /** Up to `max` of the messages RabbitMQ delivered (consumers start on first call); raises or lowers the qos to the demand. */
  async fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    const s = this.liveNow('fetchBatch');
    await Promise.all(queues.map((q) => this.consume(s, q)));
    const out = this.deliveries.take(queues, max);
    // Room for what was asked and not there yet, beside everything handed out (eta messages included).
    await this.setQos(s, Math.max(this.baseQos, this.deliveries.handedOut + max - out.length));
    await this.freeWindowsOrLost(s, queues);
    return out;
  }

  /** One delivery, waiting up to `timeoutSec` for RabbitMQ to push one (or to be reconnected); null on timeout or close. */
  async waitForOne(queues: readonly string[], timeoutSec: number): Promise<Delivery | null> {
    const deadline = Date.now() + timeoutSec * 1000;
    if (this.status.state === 'reconnecting') {
      await Promise.race([this.status.outageOver(), sleepMs(timeoutSec * 1000)]);
      if (this.status.state === 'reconnecting') return null;
    }
    const s = this.liveNow('waitForOne');
    await Promise.all(queues.map((q) => this.consume(s, q)));
    if (this.deliveries.handedOut + 1 > s.qos) await this.setQos(s, this.deliveries.handedOut + 1);
    await this.freeWindowsOrLost(s, queues);
    const now = this.deliveries.take(queues, 1);
    if (now.length > 0) return now[0] as Delivery;
    return new Promise<Delivery | null>((resolve) => {
      const finish = (d: Delivery | null) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(d);
      };
      const wake = () => {
        if (this.status.state !== 'connected' || s.lost) return finish(null);
        const got = this.deliveries.take(queues, 1);
        if (got.length > 0) finish(got[0] as Delivery);
      };
      const timer = setTimeout(() => finish(null), Math.max(0, deadline - Date.now()));
      this.waiters.add(wake);
    });
  }

  /** `freeWindows`; a channel lost meanwhile is the reconnect's business (the caller's deliveries became orphans). */
  private async freeWindowsOrLost(s: AmqpSession, queues: readonly string[]): Promise<void> {
    try {
      await this.freeWindows(s, queues);
    } catch (error) {
      if (!s.lost) throw error;
    }
  }

  /**
   * Acks on the live consume channel (with `allUpTo`, every unacked message up to `m` too); false
   * when it died meanwhile (RabbitMQ then redelivers).
   */
  private ackOnChannel(m: ConsumeMessage, requeue: boolean | null, allUpTo = false): boolean {
    const s = this.session;
    if (s === null || s.lost) return false;
    try {
      if (requeue === null) s.consume.ack(m, allUpTo);
      else s.consume.nack(m, false, requeue);
      this.windows.get(s)?.settled(m, allUpTo);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * basic.ack of the tags: one `multiple` ack for those delivered before every message still held
   * (a batch the worker finished in order is one frame), one by one for the others; never a
   * message the worker did not ack (acks_late stays exact). A tag of a dead channel is never sent
   * (RabbitMQ would close the new channel for an unknown tag): its parked redelivery is acked
   * instead, or the redelivery when it comes.
   */
  async ack(tags: readonly string[]): Promise<void> {
    const { upTo, each } = this.deliveries.forAckMany(tags);
    if (upTo !== null) this.ackOnChannel(upTo, null, true);
    for (const m of each) this.ackOnChannel(m, null);
  }

  /** basic.nack with requeue: RabbitMQ puts each back at its place, marked redelivered. */
  async requeue(deliveries: readonly Delivery[]): Promise<number> {
    let n = 0;
    for (const d of deliveries) {
      const m = this.deliveries.forRequeue(d.deliveryTag);
      if (m === 'returned' || (m !== null && this.ackOnChannel(m, true))) n++;
    }
    return n;
  }

  /**
   * Stores the dead-letter record (the Redis broker's JSON) on the durable `celeriac.dead-letter`
   * queue (capped at `deadLetterMaxEntries`, the oldest dropped: see DeadLetterQueue), confirmed,
   * then acks the message.
   */
  async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const queue = this.deadLetters.name;
    const record = deadLetterRecord(delivery, reason, {}, this.o.deadLetterMaxRawBytes ?? 65_536);
    await this.onLive('deadLetter', async (s) => {
      await this.deadLetters.declare(s);
      await this.send(
        s,
        queue,
        { content: Buffer.from(record, 'utf8'), options: { contentType: 'application/json', deliveryMode: 2 } },
        { queue, exchange: '', exchangeType: 'direct', routingKey: queue },
      );
    });
    await this.ack([delivery.deliveryTag]);
  }

  /**
   * The native delayed delivery for `binding`'s queue on session `s`: the queue bound to
   * `celery_delayed_delivery` (once per queue, at its first consume: a Celery 5.5 client may delay
   * messages for it too) and, with `levels`, the 28 levels declared (once per session, at the
   * first defer: a worker that never defers declares no quorum queues). Idempotent.
   */
  private delayedDeliveryFor(s: AmqpSession, binding: QueueBinding, levels: boolean): Promise<void> {
    let ready = this.delayReadiness.get(s);
    if (ready === undefined) {
      ready = { topology: null, queues: new Map() };
      this.delayReadiness.set(s, ready);
    }
    const r = ready;
    if (levels && r.topology === null) {
      const topology = this.delayStep(s, 'declaring', (channel) => declareDelayTopology(channel, this.delayQueueType));
      topology.catch(() => {
        if (r.topology === topology) r.topology = null;
      });
      r.topology = topology;
    }
    let bound = r.queues.get(binding.queue);
    if (bound === undefined) {
      if (delayable(binding)) {
        bound = this.delayStep(s, 'binding to', (channel) => bindToDelayedDelivery(channel, binding));
      } else {
        this.o.logger.warn(
          { event: 'broker.amqp_delay_key_too_long', queue: binding.queue, routing_key: binding.routingKey },
          `Queue "${binding.queue}" is not bound to the delayed delivery: its routing key and the 28 delay bits exceed AMQP's 255 bytes`,
        );
        bound = Promise.resolve();
      }
      r.queues.set(binding.queue, bound);
      bound.catch(() => r.queues.delete(binding.queue));
    }
    return levels && r.topology !== null ? Promise.all([r.topology, bound]).then(() => undefined) : bound;
  }

  /** One step of the delay set-up on the declare channel; BROKER_COMMAND_FAILED naming the likely cause when RabbitMQ refuses it. */
  private async delayStep(s: AmqpSession, what: string, step: (channel: Channel) => Promise<void>): Promise<void> {
    try {
      await step(await s.channelForDeclare());
    } catch (error) {
      if (s.lost) throw error;
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `${what} Celery 5.5's native delayed delivery (celery_delayed_0 … celery_delayed_27, celery_delayed_delivery) on ` +
          `RabbitMQ at ${this.currentUrl()} failed (${error instanceof Error ? error.message : String(error)}); levels ` +
          `declared before with other arguments (another broker_native_delayed_delivery_queue_type than "${this.delayQueueType}") ` +
          'must be deleted, or this setting made the same as theirs; the user needs the configure permission on them',
        { cause: error },
      );
    }
  }

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
    const moving: { item: AmqpDeferItem; message: AmqpOutgoing }[] = [];
    for (const item of items) {
      const held = this.deliveries.peek(item.delivery.deliveryTag);
      if (held === null) continue;
      // An orphan (its channel died, the worker still answers for it): rebuilt from its envelope.
      const message = held === 'orphan' ? envelopeToAmqp(item.delivery.raw) : delayedCopy(held);
      moving.push({ item, message: { content: message.content, options: { ...message.options, mandatory: true } } });
    }
    if (moving.length === 0) return 0;
    const returned = await this.onLive('defer', async (s) => {
      const bindings = new Map<string, QueueBinding>();
      for (const queue of new Set(moving.map((m) => m.item.delivery.queue))) {
        const binding = await this.declare(s, queue);
        await this.delayedDeliveryFor(s, binding, true);
        bindings.set(queue, binding);
      }
      return this.sendDelayed(s, moving, bindings);
    });
    const moved = moving.filter((m) => !returned.has(m));
    await this.ack(moved.map((m) => m.item.delivery.deliveryTag));
    this.o.logger.debug(
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

  /** Publishes each into `celery_delayed_27` (mandatory, confirmed); resolves with those RabbitMQ returned. */
  private async sendDelayed<T extends { item: AmqpDeferItem; message: AmqpOutgoing }>(
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

  /** RabbitMQ returns a dead consumer's unacked messages itself (on channel close): nothing to restore. */
  async restoreVisibilityTimeout(): Promise<number> {
    return 0;
  }

  /** Closes the connection; messages delivered and not acked go back to their queues (idempotent). */
  async close(): Promise<void> {
    if (this.status.state === 'closed') return;
    clearTimeout(this.retryTimer);
    this.setState('closed');
    for (const wake of this.waiters) wake();
    const s = this.session;
    this.session = null;
    if (s !== null && !s.lost) {
      s.lost = true;
      await s.close();
    }
  }
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

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
