import { PRIORITY_SEPARATOR, PRIORITY_STEPS, priorityQueueName } from '@celeriac/protocol';

/** Every Redis key name the broker touches, kombu's and ours, in one place. */

/** kombu's separator between a queue name and its priority step, and inside binding members. */
export const SEP = PRIORITY_SEPARATOR;

/** kombu's priority steps; a lower step is served first. */
export { PRIORITY_STEPS };

/** Hash: delivery_tag → `[envelope, exchange, routing_key]` JSON of every delivered, unacked entry. */
export const UNACKED_KEY = 'unacked';

/** Sorted set: delivery_tag scored by its delivery time (unix seconds, float). */
export const UNACKED_INDEX_KEY = 'unacked_index';

/** String lock that serialises visibility-timeout restores across all consumers (kombu's). */
export const UNACKED_MUTEX_KEY = 'unacked_mutex';

/** How long a restore may hold `unacked_mutex` (kombu's `unacked_mutex_expire`, 300 s). */
export const UNACKED_MUTEX_EXPIRE_MS = 300_000;

/** Default list that receives `{raw, reason, queue, at}` records of entries that cannot be processed. */
export const DEFAULT_DEAD_LETTER_KEY = 'celeriac.dead-letter';

/** The list of a queue for one priority: `celery` for step 0, `celery\x06\x163` for step 3. */
export function priorityListKey(queue: string, priority = 0): string {
  return priorityQueueName(queue, priority);
}

/** The queue a list key belongs to (`celery\x06\x163` → `celery`). */
export function queueOfListKey(key: string): string {
  const at = key.lastIndexOf(SEP);
  return at === -1 ? key : key.slice(0, at);
}

/** kombu's binding set of the exchange named like the queue: `_kombu.binding.<queue>`. */
export function bindingKey(queue: string): string {
  return '_kombu.binding.' + queue;
}

/** The member kombu adds for a task queue: `<routing_key>\x06\x16<pattern>\x06\x16<queue>` with an empty pattern. */
export function bindingMember(queue: string): string {
  return queue + SEP + SEP + queue;
}

/** Hash of the tags one consumer holds (tag → delivery score), so a supervisor can restore them when it dies. */
export function heldKey(ownerId: string): string {
  return 'celeriac.held.' + ownerId;
}
