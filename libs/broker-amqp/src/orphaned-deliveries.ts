/** Our delivery tag: `<channel generation>.<AMQP delivery tag>`, so a tag of a dead channel is never acked on a new one. */
export function generationTag(generation: number, amqpTag: number): string {
  return `${generation}.${amqpTag}`;
}

/** How many task ids acked while their message was away are remembered (oldest forgotten first). */
const SETTLED_LIMIT = 10_000;

interface Orphan {
  taskId: string | null;
  /** The tag of the same task's redelivery on the new channel, parked until the orphan settles. */
  rebound: string | null;
}

/** What to do with a message RabbitMQ redelivered on a new channel. */
export type RedeliveryAction =
  | { action: 'deliver' }
  /** The task finished (and was acked) while the connection was down: ack this copy, run nothing. */
  | { action: 'ack' }
  /** The task still runs from the old channel: hold this copy and settle it as the old one ends. */
  | { action: 'park'; orphanTag: string };

/**
 * Deliveries the worker holds from a channel that died. RabbitMQ redelivers their messages on the
 * new channel; this keeps a task from running twice in this worker where it can: a redelivery of
 * a task that finished meanwhile is acked at once, one of a task still running is parked and
 * acked (or requeued) when the old delivery is. Celery 5.2 does neither: the ack of the old
 * delivery goes to the dead channel and is lost, and the redelivered copy runs again (with
 * `worker_cancel_long_running_tasks_on_connection_loss`, false by default, it cancels the old run).
 * A redelivery that reaches another worker cannot be caught here: it may run twice (at least once).
 */
export class OrphanedDeliveries {
  private readonly orphans = new Map<string, Orphan>();
  private readonly running = new Map<string, string>();
  private readonly settled = new Set<string>();

  /** Takes in a delivery handed to the worker when its channel died. */
  adopt(tag: string, taskId: string | null): void {
    this.orphans.set(tag, { taskId, rebound: null });
    if (taskId !== null) this.running.set(taskId, tag);
  }

  /** The channel of parked redeliveries died too: they come again, and are parked again then. */
  unbindAll(): void {
    for (const orphan of this.orphans.values()) orphan.rebound = null;
  }

  has(tag: string): boolean {
    return this.orphans.has(tag);
  }

  get size(): number {
    return this.orphans.size;
  }

  /** Decides about a redelivered message of task `taskId` (parking binds it to the orphan). */
  onRedelivered(taskId: string | null, newTag: string): RedeliveryAction {
    if (taskId === null) return { action: 'deliver' };
    if (this.settled.delete(taskId)) return { action: 'ack' };
    const orphanTag = this.running.get(taskId);
    const orphan = orphanTag === undefined ? undefined : this.orphans.get(orphanTag);
    if (orphanTag === undefined || orphan === undefined || orphan.rebound !== null) return { action: 'deliver' };
    orphan.rebound = newTag;
    return { action: 'park', orphanTag };
  }

  /** The worker acked an orphan: the parked redelivery to ack, or null (its redelivery is acked on arrival). */
  settle(tag: string): string | null {
    const orphan = this.take(tag);
    if (orphan === undefined) return null;
    if (orphan.rebound !== null) return orphan.rebound;
    if (orphan.taskId !== null) {
      this.settled.add(orphan.taskId);
      if (this.settled.size > SETTLED_LIMIT) this.settled.delete(this.settled.values().next().value as string);
    }
    return null;
  }

  /** The worker gave an orphan back (requeue): the parked redelivery to requeue, or null (it arrives as new). */
  giveBack(tag: string): string | null {
    return this.take(tag)?.rebound ?? null;
  }

  private take(tag: string): Orphan | undefined {
    const orphan = this.orphans.get(tag);
    if (orphan === undefined) return undefined;
    this.orphans.delete(tag);
    if (orphan.taskId !== null && this.running.get(orphan.taskId) === tag) this.running.delete(orphan.taskId);
    return orphan;
  }
}
