import type { BrokerOptions } from './broker-options.js';
import { BrokerArgumentError } from './errors.js';
import { taskQueuesFromSettings } from './task-queues.js';
import type { QueueOrderStrategy, TransportOptions } from './transport-options.js';
import { waitReplicasFromSettings } from './wait-replicas.js';

/** `broker_transport_options` entries the Redis transport honours (kombu's names). */
export const HONOURED_TRANSPORT_OPTIONS: readonly string[] = [
  'visibility_timeout',
  'sep',
  'priority_steps',
  'queue_order_strategy',
  'global_keyprefix',
];

/** Entries read by the connection layer (Sentinel), not by the transport: not reported as ignored here. */
const CONNECTION_OPTIONS: ReadonlySet<string> = new Set(['master_name', 'sentinel_kwargs']);

/**
 * The broker options that Celery settings give: `broker_transport_options` (`visibility_timeout`
 * in seconds, `sep`, `priority_steps`, `queue_order_strategy`, `global_keyprefix`; any other
 * entry is listed in `ignoredTransportOptions`, which the broker logs at start) and the queue table
 * (`task_queues`, `task_default_queue`, `task_default_exchange`, `task_default_exchange_type`,
 * `task_default_routing_key`, `task_create_missing_queues`). The client and the worker build their
 * broker with it, so both name keys and route alike. Throws BROKER_BAD_ARGUMENT for unreadable values.
 */
export function brokerOptionsFromCelery(settings: Readonly<Record<string, unknown>>): Partial<BrokerOptions> {
  const raw = settings.broker_transport_options ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BrokerArgumentError('broker_transport_options must be an object');
  }
  const t = raw as Record<string, unknown>;
  const transport: Partial<TransportOptions> = {};
  if (t.sep !== undefined) transport.sep = t.sep as string;
  if (t.priority_steps !== undefined) transport.prioritySteps = t.priority_steps as number[];
  if (t.queue_order_strategy !== undefined) transport.queueOrderStrategy = t.queue_order_strategy as QueueOrderStrategy;
  if (t.global_keyprefix !== undefined && t.global_keyprefix !== null)
    transport.globalKeyPrefix = t.global_keyprefix as string;
  const out: Partial<BrokerOptions> = {
    transport,
    taskQueues: taskQueuesFromSettings(settings),
    ignoredTransportOptions: Object.keys(t).filter(
      (name) => !HONOURED_TRANSPORT_OPTIONS.includes(name) && !CONNECTION_OPTIONS.has(name),
    ),
    ...waitReplicasFromSettings(settings),
  };
  const visibility = t.visibility_timeout;
  if (visibility !== undefined && visibility !== null) {
    if (typeof visibility !== 'number' || !(visibility > 0)) {
      throw new BrokerArgumentError(
        `broker_transport_options.visibility_timeout must be a number of seconds > 0, got ${JSON.stringify(visibility)}`,
      );
    }
    out.visibilityTimeoutMs = visibility * 1000;
  }
  return out;
}
