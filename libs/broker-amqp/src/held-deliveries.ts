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
    // One pass that keeps the others in place (no splice per message: the buffer holds a qos window).
    let kept = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const d = this.buffer[i] as Delivery;
      if (out.length < max && wanted.has(d.queue)) out.push(d);
      else this.buffer[kept++] = d;
    }
    this.buffer.length = kept;
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

  /**
   * The acks to send for `tags`, as few frames as exact acks allow: `upTo` is one `multiple` ack
   * covering exactly the messages of `tags` delivered before every message still held (the
   * channel's oldest unsettled ones: a drain finishes them about in order), `each` the others,
   * one by one. A multiple ack never covers a message the worker did not ask to ack.
   */
  forAckMany(tags: readonly string[]): { upTo: ConsumeMessage | null; each: ConsumeMessage[] } {
    const acked: ConsumeMessage[] = [];
    for (const tag of tags) {
      const m = this.forAck(tag);
      if (m !== null) acked.push(m);
    }
    // Held messages are kept in delivery order (RabbitMQ's tags grow on a channel): the first one
    // left is the oldest message RabbitMQ still counts unacked beside those acked now.
    const oldestHeld = this.held.values().next();
    const below = oldestHeld.done === true ? Number.POSITIVE_INFINITY : oldestHeld.value.message.fields.deliveryTag;
    let upTo: ConsumeMessage | null = null;
    const each: ConsumeMessage[] = [];
    for (const m of acked) {
      if (m.fields.deliveryTag >= below) each.push(m);
      else if (upTo === null || m.fields.deliveryTag > upTo.fields.deliveryTag) upTo = m;
    }
    return { upTo, each };
  }

  /** The message to basic.ack for `tag`: its own, or the parked redelivery of an orphan; null when there is none on the live channel. */
  forAck(tag: string): ConsumeMessage | null {
    const own = this.release(tag);
    if (own !== null || !this.orphans.has(tag)) return own;
    const rebound = this.orphans.settle(tag);
    return rebound === null ? null : this.release(rebound);
  }

  /** The message of `tag` without settling it; `orphan` when its channel died and it is not settled yet; null when unknown. */
  peek(tag: string): ConsumeMessage | 'orphan' | null {
    return this.held.get(tag)?.message ?? (this.orphans.has(tag) ? 'orphan' : null);
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
