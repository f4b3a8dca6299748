import { compressionProblem } from '@celeriac/protocol';
import { CELERIAC_SETTING_CHECKS, type CeleriacDeliverySettings } from './celeriac-settings.js';
import { checkCeleryTlsSetting, checkCeleryUrl, checkFailoverStrategy } from './celery-urls.js';
import {
  type AddIssue,
  type Check,
  checkBoolean,
  checkInteger,
  checkMembers,
  checkNumber,
  checkObject,
  checkString,
  checkStringArray,
  show,
} from './checks.js';
import { FLEET_ANNOTATION_CHECKS } from './fleet-limit-settings.js';
import { isPlainObject } from './merge-layers.js';
import { checkRateLimit } from './rate-limit.js';
import { TASK_QUEUE_SETTING_CHECKS } from './task-queues.js';

/** The serializers Celeriac workers speak. */
export const SUPPORTED_SERIALIZERS = ['json', 'msgpack'] as const;
export type SerializerName = (typeof SUPPORTED_SERIALIZERS)[number];

/** accept_content entries may be serializer names or their content types. */
const CONTENT_TYPES: Record<string, SerializerName> = {
  json: 'json',
  msgpack: 'msgpack',
  'application/json': 'json',
  'application/x-msgpack': 'msgpack',
};

/** Queue names: what a Redis list key and a Celery queue can both carry safely. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,199}$/;

export const checkQueueName: Check = (value, add) => {
  if (typeof value !== 'string' || !QUEUE_NAME_PATTERN.test(value)) {
    add(
      [],
      `${show(value)} is not a queue name; use 1 to 200 characters of letters, digits, "_", ".", ":", "@" and "-", starting with a letter, digit or "_"`,
    );
  }
};

/** kombu's `queue_order_strategy` names (`cycle_by_name`), as the broker accepts them. */
const QUEUE_ORDER_STRATEGIES = ['round_robin', 'priority', 'sorted'];

const checkQueueOrderStrategy: Check = (value, add) => {
  if (typeof value !== 'string' || !QUEUE_ORDER_STRATEGIES.includes(value)) {
    add([], `${show(value)} is not a queue order strategy; use "round_robin", "priority" or "sorted"`);
  }
};

// '' is kombu's "no prefix", so an empty string is allowed.
const checkKeyPrefix: Check = (value, add) => {
  if (typeof value !== 'string') add([], 'must be a string (the prefix of every broker key; "" for none)');
};

export const checkSerializer: Check = (value, add) => {
  if (typeof value === 'string' && (SUPPORTED_SERIALIZERS as readonly string[]).includes(value)) return;
  if (value === 'pickle' || value === 'yaml') {
    add([], `"${value}" is not supported: Celeriac workers speak only "json" and "msgpack"`);
  } else add([], `${show(value)} is not a serializer; use "json" or "msgpack"`);
};

export const checkAcceptContent: Check = (value, add) => {
  if (!Array.isArray(value)) {
    add([], 'must be a list of serializers, e.g. ["json"] or ["json", "msgpack"]');
    return;
  }
  if (value.length === 0) add([], 'must list at least one serializer, e.g. ["json"]');
  value.forEach((entry, index) => {
    if (typeof entry === 'string' && Object.hasOwn(CONTENT_TYPES, entry)) return;
    const refused =
      typeof entry === 'string' && /pickle|yaml|python-serialize/.test(entry)
        ? `${show(entry)} is not supported: Celeriac workers accept only "json" and "msgpack"`
        : `${show(entry)} is not a serializer; use "json" or "msgpack" (or "application/json", "application/x-msgpack")`;
    add([index], refused);
  });
};

/** The serializer names an accept_content list allows (content types mapped to names). */
export function acceptedSerializers(accept: readonly unknown[]): SerializerName[] {
  const names = new Set<SerializerName>();
  for (const entry of accept) {
    if (typeof entry === 'string' && Object.hasOwn(CONTENT_TYPES, entry))
      names.add(CONTENT_TYPES[entry] as SerializerName);
  }
  return [...names];
}

/** task_compression / result_compression: a method Celeriac can do, by kombu's name or content type. */
export const checkCompression: Check = (value, add) => {
  const problem = compressionProblem(value);
  if (problem !== undefined) add([], problem);
};

/** One route: a queue name, or options such as {"queue": "q", "routing_key": "...", "priority": 5}. */
const checkRouteTarget: Check = (value, add, layer) => {
  if (typeof value === 'string') {
    checkQueueName(value, add, layer);
    return;
  }
  if (!isPlainObject(value)) {
    add([], 'must be a queue name or an object such as {"queue": "add_queue"}');
    return;
  }
  checkMembers({
    queue: checkQueueName,
    routing_key: checkString,
    exchange: (v, a) => {
      if (typeof v !== 'string') a([], 'must be a string');
    },
    priority: checkInteger(0, 255),
  })(value, add, layer);
};

const checkRouteMap: Check = (value, add, layer) => {
  if (!isPlainObject(value)) {
    add([], 'must be an object of task name (or glob pattern) to route');
    return;
  }
  for (const [pattern, target] of Object.entries(value)) {
    if (target === null && layer) continue;
    if (pattern.length === 0) add([pattern], 'task name patterns must not be empty');
    checkRouteTarget(target, (path, message) => add([pattern, ...path], message), layer);
  }
};

/** task_routes: a map, or a list of maps and [pattern, route] pairs, as Celery takes them. */
export const checkTaskRoutes: Check = (value, add, layer) => {
  if (isPlainObject(value)) {
    checkRouteMap(value, add, layer);
    return;
  }
  if (!Array.isArray(value)) {
    add([], 'must be an object {"tasks.add": {"queue": "add_queue"}} or a list of such objects');
    return;
  }
  value.forEach((entry, index) => {
    const at: AddIssue = (path, message) => add([index, ...path], message);
    if (isPlainObject(entry)) checkRouteMap(entry, at, layer);
    else if (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string') {
      checkRouteTarget(entry[1], (path, message) => at([1, ...path], message), layer);
    } else if (typeof entry === 'function') {
      // A router function, as Celery takes callables: only a TypeScript app can give one (not JSON).
    } else if (typeof entry === 'string') {
      at([], 'router classes given by import path are not supported; use a map of task name to route');
    } else at([], 'must be an object of task name to route, or a ["pattern", route] pair');
  });
};

const checkAnnotationOptions = checkMembers({
  rate_limit: checkRateLimit,
  time_limit: checkNumber(0, true),
  soft_time_limit: checkNumber(0, true),
  acks_late: checkBoolean,
  ignore_result: checkBoolean,
  track_started: checkBoolean,
  max_retries: checkInteger(0, Number.MAX_SAFE_INTEGER),
  default_retry_delay: checkNumber(0, false),
  serializer: checkSerializer,
  queue: checkQueueName,
  ...FLEET_ANNOTATION_CHECKS,
});

const checkAnnotationMap: Check = (value, add, layer) => {
  if (!isPlainObject(value)) {
    add([], 'must be an object of task name (or "*") to options, e.g. {"tasks.add": {"rate_limit": "10/s"}}');
    return;
  }
  for (const [task, options] of Object.entries(value)) {
    if (options === null && layer) continue;
    checkAnnotationOptions(options, (path, message) => add([task, ...path], message), layer);
  }
};

/** task_annotations: a map of task name (or "*") to options, or a list of such maps. */
export const checkTaskAnnotations: Check = (value, add, layer) => {
  if (Array.isArray(value)) {
    value.forEach((entry, index) => {
      checkAnnotationMap(entry, (path, message) => add([index, ...path], message), layer);
    });
  } else checkAnnotationMap(value, add, layer);
};

/** Known Celery settings and how each is checked; any other key is kept unchecked. */
export const CELERY_SETTING_CHECKS: Record<string, Check> = {
  broker_url: checkCeleryUrl('broker_url'),
  broker_read_url: checkCeleryUrl('broker_read_url'),
  broker_write_url: checkCeleryUrl('broker_write_url'),
  result_backend: checkCeleryUrl('result_backend'),
  broker_use_ssl: checkCeleryTlsSetting('broker_use_ssl'),
  broker_failover_strategy: checkFailoverStrategy,
  redis_backend_use_ssl: checkCeleryTlsSetting('redis_backend_use_ssl'),
  broker_transport_options: checkMembers({
    visibility_timeout: checkNumber(0, true),
    queue_order_strategy: checkQueueOrderStrategy,
    global_keyprefix: checkKeyPrefix,
    sep: checkString,
    priority_steps: checkStringArray(checkInteger(0, 255), { nonEmpty: true }),
  }),
  result_backend_transport_options: checkObject,
  broker_connection_timeout: checkNumber(0, true),
  broker_connection_retry: checkBoolean,
  broker_connection_max_retries: checkInteger(0, Number.MAX_SAFE_INTEGER),
  broker_pool_limit: checkInteger(0, Number.MAX_SAFE_INTEGER),
  broker_heartbeat: checkNumber(0, false),
  task_serializer: checkSerializer,
  result_serializer: checkSerializer,
  accept_content: checkAcceptContent,
  result_accept_content: checkAcceptContent,
  task_routes: checkTaskRoutes,
  task_annotations: checkTaskAnnotations,
  task_default_queue: checkQueueName,
  task_default_routing_key: checkString,
  task_default_exchange: checkString,
  task_default_priority: checkInteger(0, 255),
  task_queue_max_priority: checkInteger(0, 255),
  task_default_rate_limit: checkRateLimit,
  task_acks_late: checkBoolean,
  task_acks_on_failure_or_timeout: checkBoolean,
  task_reject_on_worker_lost: checkBoolean,
  task_ignore_result: checkBoolean,
  task_store_errors_even_if_ignored: checkBoolean,
  task_track_started: checkBoolean,
  task_time_limit: checkNumber(0, true),
  task_soft_time_limit: checkNumber(0, true),
  task_create_missing_queues: checkBoolean,
  ...TASK_QUEUE_SETTING_CHECKS,
  task_always_eager: checkBoolean,
  task_protocol: checkInteger(1, 2),
  worker_concurrency: checkInteger(1, 1024),
  worker_prefetch_multiplier: checkInteger(0, 65_536),
  worker_disable_rate_limits: checkBoolean,
  worker_send_task_events: checkBoolean,
  worker_max_tasks_per_child: checkInteger(1, Number.MAX_SAFE_INTEGER),
  worker_max_memory_per_child: checkInteger(1, Number.MAX_SAFE_INTEGER),
  task_compression: checkCompression,
  result_compression: checkCompression,
  result_expires: checkNumber(0, false),
  result_extended: checkBoolean,
  result_persistent: checkBoolean,
  timezone: checkString,
  enable_utc: checkBoolean,
  imports: checkStringArray(checkString, { nonEmpty: false }),
  include: checkStringArray(checkString, { nonEmpty: false }),
  ...CELERIAC_SETTING_CHECKS,
};

/** Route options for one task. */
export interface RouteOptions {
  queue?: string;
  routing_key?: string;
  exchange?: string;
  priority?: number;
  [option: string]: unknown;
}
/** task_routes in dict or list form. */
export type TaskRoutes =
  | Record<string, string | RouteOptions>
  | (Record<string, string | RouteOptions> | [string, string | RouteOptions])[];
/** Per-task options such as rate_limit, keyed by task name or "*". */
export type TaskAnnotations = Record<string, Record<string, unknown>> | Record<string, Record<string, unknown>>[];

/** Celery settings with lowercase names (and Celeriac's own `celeriac_*`); known keys typed, any other key kept. */
export interface CelerySettings extends CeleriacDeliverySettings {
  broker_url?: string;
  result_backend?: string;
  task_serializer?: SerializerName;
  result_serializer?: SerializerName;
  accept_content?: string[];
  result_accept_content?: string[];
  task_routes?: TaskRoutes;
  task_annotations?: TaskAnnotations;
  task_default_queue?: string;
  task_default_rate_limit?: string | number;
  task_acks_late?: boolean;
  task_ignore_result?: boolean;
  task_track_started?: boolean;
  task_time_limit?: number;
  task_soft_time_limit?: number;
  worker_concurrency?: number;
  worker_prefetch_multiplier?: number;
  result_expires?: number;
  broker_transport_options?: Record<string, unknown>;
  timezone?: string;
  enable_utc?: boolean;
  [setting: string]: unknown;
}

/** Celery's defaults for the settings whose cross-checks need a value. */
const DEFAULT_SERIALIZER = 'json';
const DEFAULT_ACCEPT_CONTENT = ['json'];

/**
 * accept_content must include the task and result serializers. In a layer only what the layer itself
 * sets is compared; in an effective config Celery's defaults (json, ["json"]) fill the gaps.
 */
function checkSerializersAccepted(settings: Record<string, unknown>, add: AddIssue, layer: boolean): void {
  const accept = settings.accept_content;
  const hasAccept = Array.isArray(accept);
  for (const key of ['task_serializer', 'result_serializer'] as const) {
    const serializer = settings[key];
    if (layer && (!hasAccept || typeof serializer !== 'string')) continue;
    const name = typeof serializer === 'string' ? serializer : DEFAULT_SERIALIZER;
    if (!(SUPPORTED_SERIALIZERS as readonly string[]).includes(name)) continue;
    const accepted = acceptedSerializers(hasAccept ? accept : DEFAULT_ACCEPT_CONTENT);
    if (!accepted.includes(name as SerializerName)) {
      const what = key === 'task_serializer' ? 'task' : 'result';
      add(
        ['accept_content'],
        `must include the ${what} serializer "${name}"${hasAccept ? '' : ' (Celery accepts only ["json"] when accept_content is not set)'}`,
      );
    }
  }
}

/** Checks a (normalised) Celery settings object; in a layer, `null` values are deletions and allowed. */
export const checkCelerySettings: Check = (value, add, layer) => {
  if (!isPlainObject(value)) {
    add([], 'must be an object of Celery settings');
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const known = CELERY_SETTING_CHECKS[key];
    if (!known || item === undefined || (item === null && layer)) continue;
    known(item, (path, message) => add([key, ...path], message), layer);
  }
  checkSerializersAccepted(value, add, layer);
};
