import { type QueueBinding, type TaskQueues, taskQueuesFromSettings } from '@celeriac/broker';

/** How a queue is declared on RabbitMQ, as Celery 5.2 (kombu's `Queue`) declares it. */
export interface QueueDeclaration {
  binding: QueueBinding;
  /** `x-max-priority`, when the queue has one (`queue_arguments` of `task_queues`, else `task_queue_max_priority`). */
  maxPriority: number | null;
}

/** The queue table of an app for RabbitMQ: bindings from `taskQueuesFromSettings`, priorities beside them. */
export class QueueDeclarations {
  private readonly queues: TaskQueues;
  private readonly maxPriorities = new Map<string, number>();
  private readonly defaultMaxPriority: number | null;

  constructor(settings: Readonly<Record<string, unknown>>) {
    this.queues = taskQueuesFromSettings(settings);
    const global = settings.task_queue_max_priority;
    this.defaultMaxPriority = typeof global === 'number' ? global : null;
    for (const [name, entry] of queueEntries(settings.task_queues)) {
      const args = (entry as { queue_arguments?: Record<string, unknown> }).queue_arguments;
      const max = args?.['x-max-priority'];
      if (typeof max === 'number') this.maxPriorities.set(name, max);
    }
  }

  /** The declaration of `queue`; undefined when it is missing and `task_create_missing_queues` is false. */
  of(queue: string): QueueDeclaration | undefined {
    const binding = this.queues.bindingOf(queue);
    if (binding === undefined) return undefined;
    return { binding, maxPriority: this.maxPriorities.get(queue) ?? this.defaultMaxPriority };
  }
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
