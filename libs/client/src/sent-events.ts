import { AmqpControlConnection, AmqpEventTransport, isAmqpUrl } from '@celeriac/broker-amqp';
import { EventDispatcher } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { formatCeleryDate, type OutgoingTask, pyRepr, pyReprTuple } from '@celeriac/protocol';

/**
 * `task-sent` events of a client with `task_send_sent_event` (celery/app/amqp.py): one event per
 * published message, on `celeryev` with routing key `task.sent`, as a Python client sends it
 * (Redis PUBLISH, or the RabbitMQ topic exchange on an AMQP broker).
 */
export class SentEvents {
  private readonly dispatcher: EventDispatcher;

  /**
   * `keyPrefix`: kombu's `global_keyprefix`, before the event channels as a Python client puts it.
   * `settings`: on RabbitMQ, the connection dials as the task broker's does (`broker_use_ssl`,
   * failover list, connect timeout).
   */
  constructor(
    url: string,
    hostname: string,
    logger: Logger,
    keyPrefix = '',
    settings: Readonly<Record<string, unknown>> = {},
  ) {
    const transport = isAmqpUrl(url)
      ? {
          transport: new AmqpEventTransport({
            connection: new AmqpControlConnection({
              url,
              settings,
              logger,
              connectionName: 'celeriac client task-sent events',
            }),
            ownsConnection: true,
          }),
        }
      : {};
    this.dispatcher = new EventDispatcher({
      url,
      hostname,
      logger,
      taskEvents: true,
      batch: false,
      keyPrefix,
      ...transport,
    });
  }

  /** Announces a message that is on the broker now; never throws, never waits. */
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
      // As Celery's send_task_message: a queue send goes by the default exchange with the queue as
      // routing key; an exchange-routed one (no queue) reports the exchange and the key it was sent with.
      routing_key: o.queue !== '' ? o.queue : (o.routingKey ?? ''),
    });
  }

  /** Publishes what is pending and closes the connection. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
