import { EventDispatcher } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { formatCeleryDate, type OutgoingTask, pyRepr, pyReprTuple } from '@celeriac/protocol';

/**
 * `task-sent` events of a client with `task_send_sent_event` (celery/app/amqp.py): one event per
 * published message, on `celeryev` with routing key `task.sent`, as a Python client sends it.
 */
export class SentEvents {
  private readonly dispatcher: EventDispatcher;

  constructor(url: string, hostname: string, logger: Logger) {
    this.dispatcher = new EventDispatcher({ url, hostname, logger, taskEvents: true, batch: false });
  }

  /** Announces a message that is in Redis now; never throws, never waits. */
  sent(o: OutgoingTask): void {
    this.dispatcher.sendTask('task-sent', {
      uuid: o.id,
      root_id: o.rootId ?? o.id,
      parent_id: o.parentId ?? null,
      name: o.task,
      args: o.argsrepr ?? pyReprTuple(o.args),
      kwargs: o.kwargsrepr ?? pyRepr(o.kwargs),
      retries: o.retries ?? 0,
      eta: o.eta ? formatCeleryDate(o.eta) : null,
      expires: o.expires ? formatCeleryDate(o.expires) : null,
      queue: o.queue,
      exchange: o.exchange ?? '',
      routing_key: o.queue,
    });
  }

  /** Publishes what is pending and closes the connection. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
