import { checkQueueName } from './celery-settings-schema.js';
import { type AddIssue, type Check, checkMembers, checkString, show } from './checks.js';
import { isPlainObject } from './merge-layers.js';

/** kombu's exchange types on Redis. */
export const EXCHANGE_TYPE_NAMES = ['direct', 'topic', 'fanout'] as const;

const checkExchangeType: Check = (value, add) => {
  if (typeof value !== 'string' || !(EXCHANGE_TYPE_NAMES as readonly string[]).includes(value)) {
    add(
      [],
      `${show(value)} is not an exchange type; use "direct", "topic" or "fanout" (kombu's Redis transport has no "headers")`,
    );
  }
};

/** A routing key may be empty (then the default routing key applies, as in Celery). */
const checkRoutingKey: Check = (value, add) => {
  if (typeof value !== 'string') add([], 'must be a string');
};

const checkQueueOptions = checkMembers({
  exchange: checkString,
  exchange_type: checkExchangeType,
  routing_key: checkRoutingKey,
  binding_key: checkRoutingKey,
  queue_arguments: (value, add) => {
    if (!isPlainObject(value)) add([], 'must be an object (e.g. {"x-max-priority": 10})');
  },
});

/**
 * `task_queues` in JSON: a list of `{"name", "exchange"?, "exchange_type"?, "routing_key"?,
 * "queue_arguments"?}` or a map of queue name to the same options (Celery's dict form). Names are
 * queue names; `exchange_type` is direct, topic or fanout; a name given twice is reported.
 */
export const checkTaskQueues: Check = (value, add, layer) => {
  if (isPlainObject(value)) {
    for (const [name, options] of Object.entries(value)) {
      if (options === null && layer) continue;
      const at: AddIssue = (path, message) => add([name, ...path], message);
      checkQueueName(name, at, layer);
      if (!isPlainObject(options))
        at([], 'must be an object such as {"exchange": "media", "routing_key": "media.video"}');
      else checkQueueOptions(options, at, layer);
    }
    return;
  }
  if (!Array.isArray(value)) {
    add(
      [],
      'must be a list such as [{"name": "video", "exchange": "media", "routing_key": "media.video"}] or a map of queue name to options',
    );
    return;
  }
  const seen = new Set<string>();
  value.forEach((entry, index) => {
    const at: AddIssue = (path, message) => add([index, ...path], message);
    if (typeof entry === 'string') {
      checkQueueName(entry, at, layer);
      return;
    }
    if (!isPlainObject(entry)) {
      at([], 'must be an object with a "name", e.g. {"name": "video", "exchange": "media"}');
      return;
    }
    if (entry.name === undefined) at(['name'], 'is required');
    else checkQueueName(entry.name, (path, message) => at(['name', ...path], message), layer);
    if (typeof entry.name === 'string') {
      if (seen.has(entry.name)) at(['name'], `queue "${entry.name}" is listed twice`);
      seen.add(entry.name);
    }
    checkQueueOptions(entry, at, layer);
  });
};

/** The settings this file checks, spread into CELERY_SETTING_CHECKS (checks run lazily: no import cycle at load). */
export const TASK_QUEUE_SETTING_CHECKS: Record<string, Check> = {
  task_queues: (value, add, layer) => checkTaskQueues(value, add, layer),
  task_default_exchange_type: (value, add, layer) => checkExchangeType(value, add, layer),
};
