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

/** Default list that receives dead-letter records (format in README.md) of entries that cannot be processed. */
export const DEFAULT_DEAD_LETTER_KEY = 'celeriac.dead-letter';

/** Default cap on the dead-letter list (LTRIM after every push). */
export const DEFAULT_DEAD_LETTER_MAX_ENTRIES = 10_000;

/** Raw entries longer than this (UTF-8 bytes) are stored truncated in a dead-letter record, with their size and sha256. */
export const DEFAULT_DEAD_LETTER_MAX_RAW_BYTES = 64 * 1024;

/** Default number of redeliveries after crashes a message may have; the next one dead-letters it. */
export const DEFAULT_REDELIVERY_LIMIT = 5;

/** Sorted set of messages waiting for their eta, scored by due time (epoch ms); members from `delayedMember`. */
export const DELAYED_KEY = 'celeriac.delayed';

/** Hash: ownerId → JSON `{"queues": [...], "at": <ms>}` of every consumer that takes with an atomic move. */
export const OWNERS_KEY = 'celeriac.owners';

/** List of `<queue>SEP<redeliveries>SEP<raw>` entries over the redelivery limit, for a worker to dead-letter. */
export const REDELIVERY_LIMIT_KEY = 'celeriac.redelivery-limit';

/** Prefix of the per delivery tag counter of redeliveries after crashes (a string with a TTL). */
export const REDELIVERIES_PREFIX = 'celeriac.redeliveries.';

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

/** Set of held tags whose run the owner started as a redelivery (marked before running): a restore counts them. */
export function startedKey(ownerId: string): string {
  return 'celeriac.started.' + ownerId;
}

/** The owner's lease: exists (with a TTL) while the owner lives and renews it. */
export function leaseKey(ownerId: string): string {
  return 'celeriac.lease.' + ownerId;
}

/** List that the blocking pop moves an entry of `queue` into (BLMOVE) before it is recorded as unacked. */
export function inflightKey(ownerId: string, queue: string): string {
  return 'celeriac.inflight.' + ownerId + SEP + queue;
}

/** A member of the delayed set: `<queue>SEP<task id>SEP<raw>` (the raw last, as it may hold anything). */
export function delayedMember(queue: string, taskId: string, raw: string): string {
  return queue + SEP + taskId + SEP + raw;
}
