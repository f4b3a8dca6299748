import { markRedelivered } from '@celeriac/protocol';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a stored `unacked` value says: the entry to push back (flags set) and the queue it came from. */
export interface RestorableEntry {
  raw: string;
  /** The routing key: the queue for the default exchange ('' exchange). */
  queue: string;
  /** The exchange it was published to ('' = the default exchange). */
  exchange: string;
}

/**
 * Reads an `unacked` hash value `[envelope, exchange, routing_key]` (ours or kombu's). The queue is
 * the routing key, which is the queue name for Celery's default exchange. Returns null when the
 * value cannot be read.
 */
export function restorableFromUnacked(value: string): RestorableEntry | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length < 3) return null;
  const [envelope, exchangeValue, routingKey] = parsed as [unknown, unknown, unknown];
  const exchange = typeof exchangeValue === 'string' ? exchangeValue : '';
  let queue = typeof routingKey === 'string' ? routingKey : '';
  if (queue === '' && isObject(envelope) && isObject(envelope.properties)) {
    const info = envelope.properties.delivery_info;
    if (isObject(info) && typeof info.routing_key === 'string') queue = info.routing_key;
  }
  if (queue === '') return null;
  if (typeof envelope === 'string') return { raw: envelope, queue, exchange };
  if (!isObject(envelope)) return null;
  return { raw: markRedelivered(JSON.stringify(envelope)), queue, exchange };
}
