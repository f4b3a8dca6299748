/**
 * Every Redis key and channel name of Celery's control and event plane, as kombu 5.2's Redis
 * transport spells them (PROTOCOL.md §7–8). `keyPrefix` is kombu's `global_keyprefix` transport
 * option ('' unless the Celery app sets it): kombu prepends it to keys and to PUBLISH/PSUBSCRIBE channels.
 */

/** kombu's separator inside binding members and between a queue and its priority step. */
export const SEP = '\x06\x16';

/** kombu's priority steps: a queue `Q` is the lists `Q`, `Q\x06\x163`, `Q\x06\x166`, `Q\x06\x169`. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;

/** Celery's `control_exchange` default: the mailbox namespace. */
export const CONTROL_NAMESPACE = 'celery';

/** The fanout exchange requests go out on: `celery.pidbox`. */
export const PIDBOX_EXCHANGE = `${CONTROL_NAMESPACE}.pidbox`;

/** The direct exchange replies go to: `reply.celery.pidbox`. */
export const REPLY_EXCHANGE = `reply.${CONTROL_NAMESPACE}.pidbox`;

/** Celery's `event_exchange` default. */
export const EVENT_EXCHANGE = 'celeryev';

/** kombu's binding set of an exchange: `_kombu.binding.<exchange>`. */
export function bindingKey(exchange: string, keyPrefix = ''): string {
  return `${keyPrefix}_kombu.binding.${exchange}`;
}

/** A binding member: `<routing_key>\x06\x16<pattern>\x06\x16<queue>`. */
export function bindingMember(routingKey: string, queue: string, pattern = ''): string {
  return routingKey + SEP + pattern + SEP + queue;
}

/** Splits a binding member into routing key, pattern and queue; undefined when malformed. */
export function parseBindingMember(member: string): { routingKey: string; pattern: string; queue: string } | undefined {
  const parts = member.split(SEP);
  if (parts.length !== 3) return undefined;
  return { routingKey: parts[0]!, pattern: parts[1]!, queue: parts[2]! };
}

/** A worker's pidbox queue: `<hostname>.celery.pidbox` (declared and bound, never written on Redis). */
export function nodeQueueName(hostname: string): string {
  return `${hostname}.${PIDBOX_EXCHANGE}`;
}

/** A client's reply queue: `<oid>.reply.celery.pidbox`, bound with routing key `<oid>`. */
export function replyQueueName(oid: string): string {
  return `${oid}.${REPLY_EXCHANGE}`;
}

/** The lists of a queue, one per priority step, with the key prefix applied. */
export function priorityLists(queue: string, keyPrefix = ''): string[] {
  return PRIORITY_STEPS.map((step) => keyPrefix + (step === 0 ? queue : queue + SEP + String(step)));
}

/**
 * The channel a fanout exchange publishes on: `/<db>.<exchange>`, plus `/<routing_key>` when the
 * routing key is not empty (kombu's `fanout_prefix` and `fanout_patterns`, both on by default).
 */
export function fanoutChannel(db: number, exchange: string, routingKey = '', keyPrefix = ''): string {
  const base = `${keyPrefix}/${db}.${exchange}`;
  return routingKey ? `${base}/${routingKey}` : base;
}

/** The event channel of one event type: `task-succeeded` → `/0.celeryev/task.succeeded`. */
export function eventRoutingKey(type: string): string {
  return type.replaceAll('-', '.');
}

/** The Redis database of a `redis://host:port/<db>` URL (ioredis rules: the path, else `?db=`, else 0). */
export function redisDbFromUrl(url: string): number {
  try {
    const parsed = new URL(url);
    const fromPath = parsed.pathname.replace(/^\//, '');
    const raw = fromPath !== '' ? fromPath : (parsed.searchParams.get('db') ?? '0');
    const db = Number.parseInt(raw, 10);
    return Number.isInteger(db) && db >= 0 ? db : 0;
  } catch {
    return 0;
  }
}

/** Celeriac's own sorted set of revoked task ids (member = id, score = revoke time in ms). */
export function revokedKey(keyPrefix = ''): string {
  return `${keyPrefix}celeriac.revoked`;
}
