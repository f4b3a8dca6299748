import { type QueueBinding, type TaskQueues, taskQueuesFromSettings } from '@celeriac/broker';
import { AmqpError } from './amqp-errors.js';

/** RabbitMQ's queue types Celeriac declares: kombu's default (classic) and Celery 5.5's quorum option. */
export type AmqpQueueType = 'classic' | 'quorum';

/** How a queue is declared on RabbitMQ, as Celery (kombu's `Queue`) declares it. */
export interface QueueDeclaration {
  binding: QueueBinding;
  /** `x-max-priority`, when the queue has one (`queue_arguments` of `task_queues`, else `task_queue_max_priority`). */
  maxPriority: number | null;
  /** `quorum` for the default queue under `task_default_queue_type: 'quorum'` or `x-queue-type: 'quorum'` in its `queue_arguments`. */
  queueType: AmqpQueueType;
}

/**
 * The queue table of an app for RabbitMQ: bindings from `taskQueuesFromSettings`, priorities and
 * queue types beside them. Built when the broker is made, so a table RabbitMQ would refuse fails
 * there with AMQP_QUEUE_CONFLICT (quorum queues take no `x-max-priority`, and need per-consumer
 * qos: `worker_detect_quorum_queues: false` cannot go with them) instead of at the first declare.
 */
export class QueueDeclarations {
  private readonly queues: TaskQueues;
  private readonly maxPriorities = new Map<string, number>();
  private readonly types = new Map<string, AmqpQueueType>();
  private readonly defaultMaxPriority: number | null;

  constructor(settings: Readonly<Record<string, unknown>>) {
    this.queues = taskQueuesFromSettings(settings);
    const global = settings.task_queue_max_priority;
    this.defaultMaxPriority = typeof global === 'number' ? global : null;
    const defaultQueue = typeof settings.task_default_queue === 'string' ? settings.task_default_queue : 'celery';
    this.types.set(defaultQueue, queueTypeOf(settings.task_default_queue_type, 'task_default_queue_type'));
    for (const [name, entry] of queueEntries(settings.task_queues)) {
      const args = (entry as { queue_arguments?: Record<string, unknown> }).queue_arguments;
      const max = args?.['x-max-priority'];
      if (typeof max === 'number') this.maxPriorities.set(name, max);
      if (args?.['x-queue-type'] !== undefined) {
        this.types.set(name, queueTypeOf(args['x-queue-type'], `task_queues.${name}.queue_arguments.x-queue-type`));
      }
    }
    for (const [name, type] of this.types) {
      if (type !== 'quorum') continue;
      const priority = this.maxPriorities.get(name) ?? this.defaultMaxPriority;
      if (priority !== null) {
        const source = this.maxPriorities.has(name) ? `its queue_arguments.x-max-priority` : 'task_queue_max_priority';
        throw new AmqpError(
          'AMQP_QUEUE_CONFLICT',
          `queue "${name}" is a quorum queue and would get x-max-priority ${priority} (${source}): RabbitMQ's quorum ` +
            'queues do not support priorities; drop the priority for it or declare it classic',
        );
      }
      if (settings.worker_detect_quorum_queues === false) {
        throw new AmqpError(
          'AMQP_QUEUE_CONFLICT',
          `queue "${name}" is a quorum queue and worker_detect_quorum_queues is false: quorum queues do not support ` +
            "the channel-wide (global) qos Celery sets on classic queues; remove worker_detect_quorum_queues (Celery 5.5's default is true)",
        );
      }
    }
  }

  /** The declaration of `queue`; undefined when it is missing and `task_create_missing_queues` is false. */
  of(queue: string): QueueDeclaration | undefined {
    const binding = this.queues.bindingOf(queue);
    if (binding === undefined) return undefined;
    return {
      binding,
      maxPriority: this.maxPriorities.get(queue) ?? this.defaultMaxPriority,
      queueType: this.types.get(queue) ?? 'classic',
    };
  }

  /** Whether the table has a quorum queue: then qos is per consumer on every queue, as Celery 5.5 sets it. */
  hasQuorum(): boolean {
    for (const type of this.types.values()) if (type === 'quorum') return true;
    return false;
  }
}

/** The `x-queue-type` arguments of a declaration (none for a classic queue, as kombu sends). */
export function queueArguments(d: QueueDeclaration): Record<string, unknown> | undefined {
  if (d.queueType === 'quorum') return { 'x-queue-type': 'quorum' };
  return d.maxPriority !== null ? { 'x-max-priority': d.maxPriority } : undefined;
}

function queueTypeOf(value: unknown, setting: string): AmqpQueueType {
  if (value === undefined || value === null || value === 'classic') return 'classic';
  if (value === 'quorum') return 'quorum';
  throw new AmqpError(
    'AMQP_QUEUE_CONFLICT',
    `${setting} must be "classic" or "quorum" (Celery 5.5's queue types), got ${JSON.stringify(value)}`,
  );
}

function queueEntries(value: unknown): [string, unknown][] {
  if (Array.isArray(value)) {
    return value
      .filter((q): q is { name: string } => typeof q === 'object' && q !== null && typeof q.name === 'string')
      .map((q) => [q.name, q]);
  }
  if (typeof value === 'object' && value !== null) return Object.entries(value);
  return [];
}
