import { BrokerArgumentError } from './errors.js';
import { checkQueueBinding, type ExchangeType, isExchangeType, type QueueBinding } from './exchange-bindings.js';

/** The queues an app knows (Celery's `app.amqp.queues`), with their bindings and what to do with others. */
export interface TaskQueues {
  /** Every queue of `task_queues` (or the default queue when it is empty), by name, in order. */
  readonly bindings: ReadonlyMap<string, QueueBinding>;
  /** `task_create_missing_queues` (default true): unknown queues are created on their own direct exchange. */
  readonly createMissing: boolean;
  /** `task_default_queue`. */
  readonly defaultQueue: string;
  /** The binding of a queue: its `task_queues` entry, else (create missing) exchange = queue, direct, routing key = queue; undefined when missing and not created. */
  bindingOf(queue: string): QueueBinding | undefined;
  /** The type of an exchange as the queues bound to it declare it; undefined when no known queue is bound to it. */
  exchangeTypeOf(exchange: string): ExchangeType | undefined;
}

function text(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new BrokerArgumentError(`${what} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Celery's queue table from settings, as `app.amqp.queues` builds it in Celery 5.2. `task_queues`
 * is a list of `{ name, exchange?, exchange_type?, routing_key? | binding_key?, queue_arguments? }`
 * or a map name → the same without `name` (Celery's dict form). As Celery's `Queues.add_compat`:
 * without an exchange the queue is bound to the default exchange (`task_default_exchange`, else
 * the default queue's name) of type `task_default_exchange_type` (an `exchange_type` given without
 * an exchange is ignored, as in Celery); with an exchange its type defaults to direct; the routing
 * key defaults to the queue's name, and an empty one to `task_default_routing_key` (else the
 * default queue's name). Without `task_queues`, the one queue is the default queue on the default
 * exchange with the default routing key. Throws BROKER_BAD_ARGUMENT for values it cannot read.
 */
export function taskQueuesFromSettings(settings: Readonly<Record<string, unknown>>): TaskQueues {
  const defaultQueue = text(settings.task_default_queue, 'task_default_queue') || 'celery';
  const defaultExchange = text(settings.task_default_exchange, 'task_default_exchange') || defaultQueue;
  const defaultType = settings.task_default_exchange_type ?? 'direct';
  if (!isExchangeType(defaultType)) {
    throw new BrokerArgumentError(
      `task_default_exchange_type must be direct, topic or fanout, got ${JSON.stringify(defaultType)}`,
    );
  }
  const defaultRoutingKey = text(settings.task_default_routing_key, 'task_default_routing_key') || defaultQueue;
  const createMissing = settings.task_create_missing_queues !== false;

  const entries: [string, Record<string, unknown>][] = [];
  const raw = settings.task_queues;
  if (Array.isArray(raw)) {
    raw.forEach((entry, i) => {
      if (typeof entry === 'string') entries.push([entry, {}]);
      else if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
        const name = (entry as Record<string, unknown>).name;
        if (typeof name !== 'string' || name === '') {
          throw new BrokerArgumentError(`task_queues[${i}] needs a non-empty "name"`);
        }
        entries.push([name, entry as Record<string, unknown>]);
      } else throw new BrokerArgumentError(`task_queues[${i}] must be an object with a "name", or a queue name`);
    });
  } else if (raw !== null && typeof raw === 'object') {
    for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new BrokerArgumentError(`task_queues.${name} must be an object`);
      }
      entries.push([name, entry as Record<string, unknown>]);
    }
  } else if (raw !== undefined && raw !== null) {
    throw new BrokerArgumentError('task_queues must be a list of queue objects or a map of queue name to options');
  }

  const bindings = new Map<string, QueueBinding>();
  if (entries.length === 0) {
    bindings.set(defaultQueue, {
      queue: defaultQueue,
      exchange: defaultExchange,
      exchangeType: defaultType,
      routingKey: defaultRoutingKey,
    });
  }
  for (const [name, entry] of entries) {
    const exchange = text(entry.exchange, `task_queues ${name}: exchange`);
    const type = entry.exchange_type ?? 'direct';
    if (exchange && !isExchangeType(type)) {
      throw new BrokerArgumentError(
        `task_queues ${name}: exchange_type must be direct, topic or fanout, got ${JSON.stringify(type)}`,
      );
    }
    const key =
      text(entry.routing_key, `task_queues ${name}: routing_key`) ??
      text(entry.binding_key, `task_queues ${name}: binding_key`) ??
      name;
    bindings.set(
      name,
      checkQueueBinding({
        queue: name,
        exchange: exchange || defaultExchange,
        exchangeType: exchange ? (type as ExchangeType) : defaultType,
        routingKey: key === '' ? defaultRoutingKey : key,
      }),
    );
  }
  const types = new Map<string, ExchangeType>();
  for (const b of bindings.values()) if (!types.has(b.exchange)) types.set(b.exchange, b.exchangeType);
  return {
    bindings,
    createMissing,
    defaultQueue,
    bindingOf(queue) {
      const known = bindings.get(queue);
      if (known) return known;
      return createMissing ? { queue, exchange: queue, exchangeType: 'direct', routingKey: queue } : undefined;
    },
    exchangeTypeOf: (exchange) => types.get(exchange),
  };
}
