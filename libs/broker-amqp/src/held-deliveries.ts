import type { Delivery } from '@celeriac/broker';
import type { ConsumeMessage } from 'amqplib';
import { amqpToEnvelope } from './amqp-envelope.js';
import { generationTag, OrphanedDeliveries } from './orphaned-deliveries.js';

interface Held {
  message: ConsumeMessage;
  delivery: Delivery;
  /** A redelivery held back while the same task still runs from a dead channel. */
  parked: boolean;
}

/** What became of a message RabbitMQ pushed: buffered for the worker, parked, or to be acked at once. */
export type Received = { action: 'deliver' | 'park' | 'ack'; taskId: string | null };

/**
 * The messages RabbitMQ delivered to this broker and not yet settled: buffered (not handed out
 * yet), handed out to the worker, or parked (a redelivery waiting for the run of a dead channel's
 * delivery, see `OrphanedDeliveries`). All of them count against the qos window.
 */
export class HeldDeliveries {
  private readonly held = new Map<string, Held>();
  private readonly buffer: Delivery[] = [];
  private readonly orphans = new OrphanedDeliveries();

  /** Takes in a message of channel `generation`; on `ack` the caller acks it (a task finished meanwhile). */
  receive(generation: number, queue: string, m: ConsumeMessage): Received {
    const tag = generationTag(generation, m.fields.deliveryTag);
    const taskId = taskIdOf(m);
    const next = m.fields.redelivered ? this.orphans.onRedelivered(taskId, tag) : { action: 'deliver' as const };
    if (next.action === 'ack') return { action: 'ack', taskId };
    const raw = amqpToEnvelope(
      {
        content: m.content,
        properties: m.properties,
        exchange: m.fields.exchange,
        routingKey: m.fields.routingKey,
        redelivered: m.fields.redelivered,
      },
      tag,
    );
    const delivery: Delivery = { raw, queue, deliveryTag: tag };
    this.held.set(tag, { message: m, delivery, parked: next.action === 'park' });
    if (next.action === 'deliver') this.buffer.push(delivery);
    return { action: next.action, taskId };
  }

  /** Up to `max` buffered deliveries of `queues`, handed out in the order RabbitMQ sent them. */
  take(queues: readonly string[], max: number): Delivery[] {
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

  /** Messages on the channel and not in the buffer: handed out (eta ones included) and parked. */
  get handedOut(): number {
    return this.held.size - this.buffer.length;
  }

  /** The channel died: what the worker holds becomes orphans; buffered and parked messages are RabbitMQ's again. Returns the orphans. */
  channelLost(): number {
    const buffered = new Set(this.buffer);
    for (const [tag, h] of this.held) {
      if (!h.parked && !buffered.has(h.delivery)) this.orphans.adopt(tag, taskIdOf(h.message));
    }
    this.forgetChannel();
    return this.orphans.size;
  }

  /** Forgets every message of the channel (a session that never went live, or one lost). */
  forgetChannel(): void {
    this.held.clear();
    this.buffer.length = 0;
    this.orphans.unbindAll();
  }

  /** The message to basic.ack for `tag`: its own, or the parked redelivery of an orphan; null when there is none on the live channel. */
  forAck(tag: string): ConsumeMessage | null {
    const own = this.release(tag);
    if (own !== null || !this.orphans.has(tag)) return own;
    const rebound = this.orphans.settle(tag);
    return rebound === null ? null : this.release(rebound);
  }

  /** The message to nack (requeue) for `tag`, `returned` when RabbitMQ has it back already (its channel died), null when unknown. */
  forRequeue(tag: string): ConsumeMessage | 'returned' | null {
    const own = this.release(tag);
    if (own !== null || !this.orphans.has(tag)) return own;
    const rebound = this.orphans.giveBack(tag);
    return (rebound === null ? null : this.release(rebound)) ?? 'returned';
  }

  private release(tag: string): ConsumeMessage | null {
    const h = this.held.get(tag);
    if (h === undefined) return null;
    this.held.delete(tag);
    return h.message;
  }
}

/** The task id of a message: protocol 2's `id` header, else the correlation id. */
function taskIdOf(m: ConsumeMessage): string | null {
  const id = m.properties.headers?.id ?? m.properties.correlationId;
  return typeof id === 'string' && id !== '' ? id : null;
}
