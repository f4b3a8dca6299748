import type { Delivery, QueueBinding } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { ConsumeMessage } from 'amqplib';
import type { AmqpSession } from './amqp-session.js';
import type { AmqpSessionLifecycle } from './amqp-session-lifecycle.js';
import { ConsumerEtaWindows } from './consumer-eta-windows.js';
import type { HeldDeliveries } from './held-deliveries.js';

/** What of the session lifecycle the consume side uses. */
export type ConsumeSessions = Pick<AmqpSessionLifecycle, 'state' | 'current' | 'liveNow' | 'outageOver' | 'lose'>;

/**
 * A prefetch count as `basic.qos` carries it: a 16-bit count, 0 meaning no limit (what an infinite
 * limit, `worker_prefetch_multiplier` 0, asks for, as in Celery).
 */
function qosOnWire(count: number): number {
  return Number.isFinite(count) ? Math.min(count, 65_535) : 0;
}

/** The collaborators of `AmqpConsumption`. */
export interface AmqpConsumptionDeps {
  sessions: ConsumeSessions;
  deliveries: HeldDeliveries;
  logger: Logger;
  /** The `basic.qos` prefetch count a consumer starts with, now (pool_grow / pool_shrink change it). */
  baseQos: () => number;
  /** Whether a quorum queue is in the table: the qos is then per consumer. */
  perConsumerQos: () => boolean;
  /** Declares a queue on a session (once per session). */
  declare: (s: AmqpSession, queue: string) => Promise<QueueBinding>;
  /** Binds a queue to the native delayed delivery on a session (once per session). */
  bindDelayed: (s: AmqpSession, binding: QueueBinding) => Promise<void>;
}

/**
 * The consume side of the broker: `basic.consume` of each queue asked for (again on each new
 * session), the qos window following the worker's demand (channel-wide, or per consumer with eta
 * messages moved out of the windows, see `ConsumerEtaWindows`), the deliveries RabbitMQ pushes
 * handed out to the worker, and their acks and requeues.
 */
export class AmqpConsumption {
  private readonly consumedQueues = new Set<string>();
  private readonly waiters = new Set<() => void>();
  /** Per-consumer windows of each session's channel, when a quorum queue makes the qos per consumer. */
  private readonly windows = new WeakMap<AmqpSession, ConsumerEtaWindows>();

  constructor(private readonly d: AmqpConsumptionDeps) {}

  /** Wakes every `waitForOne` (a delivery came, or the session changed). */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  /** The starting qos on a new session. */
  applyBaseQos(s: AmqpSession): Promise<void> {
    return this.setQos(s, this.d.baseQos());
  }

  /** Consumes again on the new session `s` every queue consumed before. */
  async consumeAgain(s: AmqpSession): Promise<void> {
    await Promise.all([...this.consumedQueues].map((q) => this.consume(s, q)));
  }

  /** Per-consumer qos (a quorum queue in the table): the windows of the consumers of `s`. */
  private windowsOf(s: AmqpSession): ConsumerEtaWindows | null {
    if (!this.d.perConsumerQos()) return null;
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
    if (count === s.qos || this.d.perConsumerQos()) return;
    s.qos = count;
    await s.consume.prefetch(qosOnWire(count), true);
  }

  private async consume(s: AmqpSession, queue: string): Promise<void> {
    this.consumedQueues.add(queue);
    let started = s.consumers.get(queue);
    if (started === undefined) {
      // Bound to the delayed delivery before the first message: what is delayed for it must find its way back.
      started = this.d
        .declare(s, queue)
        .then((binding) => this.d.bindDelayed(s, binding))
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
      await s.consume.prefetch(qosOnWire(this.d.baseQos()), false);
      s.qos = this.d.baseQos();
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
          this.d.logger.debug(
            { event: 'broker.amqp_consumer_restarted', queue, eta_held: eta, consumer_tag: tag },
            'Consumer started again: its eta messages wait outside the per-consumer qos window',
          ),
        ),
      );
    }
    await Promise.all(restarts);
  }

  /** `freeWindows`; a channel lost meanwhile is the reconnect's business (the caller's deliveries became orphans). */
  private async freeWindowsOrLost(s: AmqpSession, queues: readonly string[]): Promise<void> {
    try {
      await this.freeWindows(s, queues);
    } catch (error) {
      if (!s.lost) throw error;
    }
  }

  private onMessage(s: AmqpSession, queue: string, m: ConsumeMessage | null): void {
    if (s.lost) return;
    if (m === null) {
      this.d.sessions.lose(s, new Error(`RabbitMQ cancelled the consumer of queue "${queue}"`));
      return;
    }
    const got = this.d.deliveries.receive(s.generation, queue, m);
    if (got.action === 'ack') {
      s.consume.ack(m);
      this.d.logger.info(
        { event: 'broker.amqp_redelivery_settled', task_id: got.taskId, queue },
        'A redelivered task already finished while the connection was down: acked, not run again',
      );
    } else if (got.action === 'park') {
      this.d.logger.info(
        { event: 'broker.amqp_redelivery_parked', task_id: got.taskId, queue },
        'A redelivered task still runs from the lost connection: held until that run ends',
      );
    } else {
      this.wakeAll();
    }
    if (got.action !== 'ack') this.windows.get(s)?.delivered(queue, m);
  }

  /** Up to `max` of the messages RabbitMQ delivered (consumers start on first call); raises or lowers the qos to the demand. */
  async fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]> {
    const s = this.d.sessions.liveNow('fetchBatch');
    await Promise.all(queues.map((q) => this.consume(s, q)));
    const out = this.d.deliveries.take(queues, max);
    // Room for what was asked and not there yet, beside everything handed out (eta messages included).
    await this.setQos(s, Math.max(this.d.baseQos(), this.d.deliveries.handedOut + max - out.length));
    await this.freeWindowsOrLost(s, queues);
    return out;
  }

  /** One delivery, waiting up to `timeoutSec` for RabbitMQ to push one (or to be reconnected); null on timeout or close. */
  async waitForOne(queues: readonly string[], timeoutSec: number): Promise<Delivery | null> {
    const sessions = this.d.sessions;
    const deadline = Date.now() + timeoutSec * 1000;
    if (sessions.state === 'reconnecting') {
      await Promise.race([sessions.outageOver(), sleepMs(timeoutSec * 1000)]);
      if (sessions.state === 'reconnecting') return null;
    }
    const s = sessions.liveNow('waitForOne');
    await Promise.all(queues.map((q) => this.consume(s, q)));
    if (this.d.deliveries.handedOut + 1 > s.qos) await this.setQos(s, this.d.deliveries.handedOut + 1);
    await this.freeWindowsOrLost(s, queues);
    const now = this.d.deliveries.take(queues, 1);
    if (now.length > 0) return now[0] as Delivery;
    return new Promise<Delivery | null>((resolve) => {
      const finish = (d: Delivery | null) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(d);
      };
      const wake = () => {
        if (sessions.state !== 'connected' || s.lost) return finish(null);
        const got = this.d.deliveries.take(queues, 1);
        if (got.length > 0) finish(got[0] as Delivery);
      };
      const timer = setTimeout(() => finish(null), Math.max(0, deadline - Date.now()));
      this.waiters.add(wake);
    });
  }

  /**
   * Acks on the live consume channel (with `allUpTo`, every unacked message up to `m` too); false
   * when it died meanwhile (RabbitMQ then redelivers).
   */
  private ackOnChannel(m: ConsumeMessage, requeue: boolean | null, allUpTo = false): boolean {
    const s = this.d.sessions.current;
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
    const { upTo, each } = this.d.deliveries.forAckMany(tags);
    if (upTo !== null) this.ackOnChannel(upTo, null, true);
    for (const m of each) this.ackOnChannel(m, null);
  }

  /** basic.nack with requeue: RabbitMQ puts each back at its place, marked redelivered. */
  async requeue(deliveries: readonly Delivery[]): Promise<number> {
    let n = 0;
    for (const d of deliveries) {
      const m = this.d.deliveries.forRequeue(d.deliveryTag);
      if (m === 'returned' || (m !== null && this.ackOnChannel(m, true))) n++;
    }
    return n;
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
