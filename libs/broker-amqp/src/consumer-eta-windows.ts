import { parseCeleryDate } from '@celeriac/protocol';
import type { ConsumeMessage } from 'amqplib';

/**
 * True when `m` carries an eta still ahead at `nowMs`: protocol 2's `eta` header, or protocol 1's
 * `eta` in its JSON body (a message without `headers.task`). The worker holds such a message
 * unacked until then.
 */
export function etaAhead(m: ConsumeMessage, nowMs: number): boolean {
  const headers = m.properties.headers;
  let eta: unknown = headers?.eta;
  if (headers?.task === undefined && eta === undefined && m.properties.contentType === 'application/json') {
    try {
      eta = (JSON.parse(m.content.toString('utf8')) as { eta?: unknown } | null)?.eta;
    } catch {
      return false;
    }
  }
  if (typeof eta !== 'string') return false;
  const due = parseCeleryDate(eta);
  return due !== null && due.getTime() > nowMs;
}

/**
 * The per-consumer qos windows of one channel (quorum queues refuse a channel-wide qos): for each
 * queue its live consumer's tag and the eta messages that consumer holds. RabbitMQ counts a
 * consumer's unacked messages against its own window only, and a consumer cancelled with unacked
 * messages keeps them on the channel (ackable, requeueable) outside every window. So a consumer
 * whose window holds eta messages is started again (cancel, consume): the eta messages wait
 * outside, and the new consumer's window is all free. Tags are chosen here, so a delivery that
 * arrives before `basic.consume-ok` is known to be the new consumer's.
 */
export class ConsumerEtaWindows {
  private readonly live = new Map<string, { tag: string; eta: Set<number> }>();
  private readonly restarting = new Set<string>();
  private started = 0;

  constructor(private readonly tagPrefix: string) {}

  /** The tag of the next consumer of `queue`, which becomes its live consumer with an empty window. */
  nextConsumer(queue: string): string {
    const tag = `${this.tagPrefix}.${++this.started}`;
    this.live.set(queue, { tag, eta: new Set() });
    return tag;
  }

  /** Consumers started on this channel so far (restarts included). */
  get consumersStarted(): number {
    return this.started;
  }

  /** Notes a delivery; one of the live consumer of `queue` with its eta ahead takes a slot of that window. */
  delivered(queue: string, m: ConsumeMessage): void {
    const w = this.live.get(queue);
    if (w !== undefined && m.fields.consumerTag === w.tag && etaAhead(m, Date.now())) w.eta.add(m.fields.deliveryTag);
  }

  /** Notes a basic.ack or basic.nack of `m` (with `allUpTo`, of every message delivered up to it too). */
  settled(m: ConsumeMessage, allUpTo = false): void {
    const tag = m.fields.deliveryTag;
    for (const w of this.live.values()) {
      if (!allUpTo) {
        w.eta.delete(tag);
        continue;
      }
      for (const t of w.eta) if (t <= tag) w.eta.delete(t);
    }
  }

  /** Eta messages in the live window of `queue`. */
  etaIn(queue: string): number {
    return this.live.get(queue)?.eta.size ?? 0;
  }

  /** Marks a restart of `queue`'s consumer as under way; false when one already is. */
  beginRestart(queue: string): boolean {
    if (this.restarting.has(queue)) return false;
    this.restarting.add(queue);
    return true;
  }

  endRestart(queue: string): void {
    this.restarting.delete(queue);
  }
}
