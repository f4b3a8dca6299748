import { BrokerArgumentError, type TaskQueues, taskQueuesFromSettings } from '@celeriac/broker';
import type { OutgoingTask, Serializer, Signature } from '@celeriac/protocol';
import type { ApplyOptions } from './apply-options.js';
import { ApplyOptionsError, ConfigError } from './errors.js';
import { routeExchangeTypes } from './publisher.js';
import { type RouteMatcher, resolveDestination } from './router.js';
import type { TaskOptions } from './task-options.js';

/** What `buildOutgoing` reads besides the call: the app's settings and identity, a clock and an id source. */
export interface OutgoingContext {
  /** Celery settings: `task_serializer`, `task_time_limit`, `task_soft_time_limit`, `task_ignore_result`, `task_default_queue`. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** `task_routes`, compiled. */
  readonly routes: RouteMatcher;
  /** The `origin` header: `gen<pid>@<host>`, as Celery's. */
  readonly origin: string;
  /** The `reply_to` property: the app's oid. */
  readonly replyTo: string;
  /** Milliseconds since the epoch; `countdown` and a numeric `expires` count from it. */
  now(): number;
  /** A fresh task id (uuid4) for a call that gives no `task_id`. */
  newId(): string;
}

/** No task options: what `sendTask` uses, since the task need not be registered here. */
export const NO_TASK_OPTIONS: Readonly<TaskOptions> = Object.freeze({});

const SERIALIZERS: ReadonlySet<string> = new Set(['json', 'msgpack']);

const queueTables = new WeakMap<object, { table: TaskQueues; defaultRoutingKey: string }>();

/**
 * The app's queue table (`task_queues`, `task_default_*`, `task_create_missing_queues`) of a
 * settings object, built once per settings object (`conf.update` makes a new one). Throws
 * ConfigError for a `task_queues` that cannot be read.
 */
export function queueTableOf(settings: Readonly<Record<string, unknown>>): {
  table: TaskQueues;
  defaultRoutingKey: string;
} {
  let entry = queueTables.get(settings);
  if (!entry) {
    try {
      const table = taskQueuesFromSettings(settings);
      const rk = settings.task_default_routing_key;
      entry = { table, defaultRoutingKey: typeof rk === 'string' && rk !== '' ? rk : table.defaultQueue };
    } catch (error) {
      if (error instanceof BrokerArgumentError) throw new ConfigError(error.message, { cause: error });
      throw error;
    }
    queueTables.set(settings, entry);
  }
  return entry;
}

/**
 * The message of one call, from its arguments, the call's options and the task's effective
 * options (`NO_TASK_OPTIONS` for a task sent by name). Pure: no I/O; the clock and ids come from
 * `ctx`. A call option beats the task's option, which beats the setting. Throws
 * `ApplyOptionsError` for what cannot be sent.
 */
export function buildOutgoing(
  ctx: OutgoingContext,
  name: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  options: ApplyOptions,
  own: Readonly<TaskOptions>,
): OutgoingTask {
  if (!Array.isArray(args)) throw new ApplyOptionsError(`args of task ${name} must be an array, got ${typeof args}`);
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    throw new ApplyOptionsError(`kwargs of task ${name} must be an object`);
  }
  const s = ctx.settings;
  const id = options.task_id ?? ctx.newId();
  const queues = queueTableOf(s);
  const route = resolveDestination(name, options, own, ctx.routes, queues.table, queues.defaultRoutingKey);
  const now = ctx.now();

  let eta: Date | null = null;
  if (options.countdown !== undefined && options.countdown !== null) {
    if (!Number.isFinite(options.countdown)) throw new ApplyOptionsError('countdown must be a number of seconds');
    eta = new Date(now + options.countdown * 1000);
  } else if (options.eta !== undefined && options.eta !== null) {
    if (!(options.eta instanceof Date) || Number.isNaN(options.eta.getTime())) {
      throw new ApplyOptionsError('eta must be a valid Date');
    }
    eta = options.eta;
  }

  // The envelope's `properties.expiration` (ms string) is derived from `expires` by the encoder.
  let expires: Date | null = null;
  if (options.expires !== undefined && options.expires !== null) {
    if (options.expires instanceof Date) {
      if (Number.isNaN(options.expires.getTime())) throw new ApplyOptionsError('expires must be a valid Date');
      expires = options.expires;
    } else if (typeof options.expires === 'number' && Number.isFinite(options.expires)) {
      expires = new Date(now + options.expires * 1000);
    } else {
      throw new ApplyOptionsError('expires must be a number of seconds or a Date');
    }
  }

  const serializer = (options.serializer ?? own.serializer ?? s.task_serializer ?? 'json') as Serializer;
  if (!SERIALIZERS.has(serializer)) {
    throw new ApplyOptionsError(`serializer "${String(serializer)}" is not supported; use "json" or "msgpack"`);
  }

  const priority = route.priority;
  // 0-9 on Redis; larger values (AMQP allows 255) land in the highest step, as with kombu.
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 0 || priority > 255)) {
    throw new ApplyOptionsError(`priority must be an integer from 0 to 9 (0 is served first), got ${String(priority)}`);
  }

  const hard = options.time_limit ?? own.time_limit ?? (s.task_time_limit as number | null) ?? null;
  const soft = options.soft_time_limit ?? own.soft_time_limit ?? (s.task_soft_time_limit as number | null) ?? null;
  const ignoreResult = options.ignore_result ?? own.ignore_result ?? (s.task_ignore_result as boolean) ?? false;

  const outgoing: OutgoingTask = {
    id,
    task: name,
    args,
    kwargs,
    embed: { callbacks: toList(options.link), errbacks: toList(options.link_error), chain: null, chord: null },
    eta,
    expires,
    retries: 0,
    timelimit: [hard, soft],
    rootId: options.root_id ?? id,
    parentId: options.parent_id ?? null,
    shadow: options.shadow ?? null,
    ignoreResult: Boolean(ignoreResult),
    origin: ctx.origin,
    replyTo: ctx.replyTo,
    priority: priority ?? 0,
    queue: route.queue,
    serializer,
  };
  // Through a named exchange: `queue` stays empty, the publisher resolves the exchange's bindings.
  if (route.exchange) {
    outgoing.exchange = route.exchange;
    outgoing.routingKey = route.routing_key ?? '';
    if (route.exchange_type) routeExchangeTypes.set(outgoing, route.exchange_type);
  }
  if (options.headers && Object.keys(options.headers).length > 0) outgoing.extraHeaders = options.headers;
  return outgoing;
}

function toList(value: Signature | Signature[] | undefined): Signature[] | null {
  if (value === undefined || value === null) return null;
  return Array.isArray(value) ? value : [value];
}
