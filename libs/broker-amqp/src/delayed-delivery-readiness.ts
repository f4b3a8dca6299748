import { BrokerError, type QueueBinding } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { Channel } from 'amqplib';
import type { AmqpSession } from './amqp-session.js';
import {
  bindToDelayedDelivery,
  type DelayQueueType,
  declareDelayTopology,
  delayable,
} from './native-delayed-delivery.js';

/** What the native delayed delivery is ready for on one session: the levels, and the queues bound to them. */
interface DelayReadiness {
  topology: Promise<void> | null;
  queues: Map<string, Promise<void>>;
}

/**
 * What of Celery 5.5's native delayed delivery (see `native-delayed-delivery.ts`) each session has
 * set up: the queues bound to `celery_delayed_delivery` and the 28 levels declared, each once per
 * session and again after a failure.
 */
export class DelayedDeliveryReadiness {
  private readonly bySession = new WeakMap<AmqpSession, DelayReadiness>();

  constructor(
    /** `broker_native_delayed_delivery_queue_type`: the queue type of the delay levels. */
    private readonly queueType: DelayQueueType,
    private readonly logger: Logger,
    /** The URL of the current session, for error messages. */
    private readonly urlOf: () => string,
  ) {}

  /**
   * The native delayed delivery for `binding`'s queue on session `s`: the queue bound to
   * `celery_delayed_delivery` (once per queue, at its first consume: a Celery 5.5 client may delay
   * messages for it too) and, with `levels`, the 28 levels declared (once per session, at the
   * first defer: a worker that never defers declares no quorum queues). Idempotent.
   */
  ready(s: AmqpSession, binding: QueueBinding, levels: boolean): Promise<void> {
    let ready = this.bySession.get(s);
    if (ready === undefined) {
      ready = { topology: null, queues: new Map() };
      this.bySession.set(s, ready);
    }
    const r = ready;
    if (levels && r.topology === null) {
      const topology = this.step(s, 'declaring', (channel) => declareDelayTopology(channel, this.queueType));
      topology.catch(() => {
        if (r.topology === topology) r.topology = null;
      });
      r.topology = topology;
    }
    let bound = r.queues.get(binding.queue);
    if (bound === undefined) {
      if (delayable(binding)) {
        bound = this.step(s, 'binding to', (channel) => bindToDelayedDelivery(channel, binding));
      } else {
        this.logger.warn(
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
  private async step(s: AmqpSession, what: string, step: (channel: Channel) => Promise<void>): Promise<void> {
    try {
      await step(await s.channelForDeclare());
    } catch (error) {
      if (s.lost) throw error;
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `${what} Celery 5.5's native delayed delivery (celery_delayed_0 … celery_delayed_27, celery_delayed_delivery) on ` +
          `RabbitMQ at ${this.urlOf()} failed (${error instanceof Error ? error.message : String(error)}); levels ` +
          `declared before with other arguments (another broker_native_delayed_delivery_queue_type than "${this.queueType}") ` +
          'must be deleted, or this setting made the same as theirs; the user needs the configure permission on them',
        { cause: error },
      );
    }
  }
}
