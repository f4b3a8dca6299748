import type { ExchangeType, QueueBinding, TaskQueues } from '@celeriac/broker';
import { ApplyOptionsError } from './errors.js';

/**
 * Where a task goes: the queue (the Redis list) plus the routing key and priority a route may set.
 * With `exchange` set and `queue` empty, the message goes through that named exchange: to every
 * queue bound to it whose binding matches `routing_key` (kombu's `_kombu.binding.<exchange>`).
 */
export interface Route {
  queue: string;
  routing_key?: string;
  priority?: number;
  exchange?: string;
  exchange_type?: ExchangeType;
}

/** A route value as Celery accepts it: a queue name, or `{ queue?, exchange?, exchange_type?, routing_key?, priority? }`. */
export type RouteSpec =
  | string
  | { queue?: string; routing_key?: string; priority?: number; exchange?: string; exchange_type?: string };

/** One route table: name or glob (or RegExp in pair form) → route. */
export type RouteMap = Record<string, RouteSpec> | ReadonlyArray<readonly [string | RegExp, RouteSpec]>;

/** `task_routes`: one map, or a list of maps tried in order (first match wins). */
export type TaskRoutes = RouteMap | RouterFn | ReadonlyArray<RouteMap | RouterFn | RoutePair> | null | undefined;

/** `task_routes` compiled: task name → its route value, or undefined when no router matches. */
export type RouteMatcher = (taskName: string) => RouteSpec | undefined;
type Matcher = RouteMatcher;

const globCache = new Map<string, RegExp>();

/** fnmatch-style glob (`*`, `?`, `[seq]`) to an anchored RegExp, as Celery's MapRoute does. */
export function globToRegExp(glob: string): RegExp {
  let cached = globCache.get(glob);
  if (cached) return cached;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) source += '\\[';
      else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        source += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  cached = new RegExp(`^${source}$`, 's');
  globCache.set(glob, cached);
  return cached;
}

function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function compileMap(map: RouteMap): Matcher {
  const pairs: [string | RegExp, RouteSpec][] = Array.isArray(map)
    ? (map as ReadonlyArray<readonly [string | RegExp, RouteSpec]>).map(([k, v]) => [k, v])
    : Object.entries(map as Record<string, RouteSpec>);
  const exact = new Map<string, RouteSpec>();
  const patterns: [RegExp, RouteSpec][] = [];
  for (const [key, spec] of pairs) {
    if (key instanceof RegExp) patterns.push([key, spec]);
    else if (isGlob(key)) patterns.push([globToRegExp(key), spec]);
    else if (!exact.has(key)) exact.set(key, spec);
  }
  // Celery's MapRoute looks the exact name up first, then tries the patterns in order.
  return (taskName) => {
    const hit = exact.get(taskName);
    if (hit !== undefined) return hit;
    for (const [re, spec] of patterns) if (re.test(taskName)) return spec;
    return undefined;
  };
}

/** A router function, as Celery allows in `task_routes`: name → route value, or undefined to pass. */
export type RouterFn = (taskName: string) => RouteSpec | undefined | null;

/** One `[pattern, route]` pair, as a list entry of `task_routes` in JSON configs. */
export type RoutePair = readonly [string | RegExp, RouteSpec];

function isPair(value: unknown): value is RoutePair {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    (typeof value[0] === 'string' || value[0] instanceof RegExp) &&
    !Array.isArray(value[1])
  );
}

function compileRouter(router: RouteMap | RouterFn | RoutePair): Matcher {
  if (typeof router === 'function') return (taskName) => router(taskName) ?? undefined;
  if (isPair(router)) return compileMap([router]);
  return compileMap(router as RouteMap);
}

/**
 * Turns `task_routes` into one lookup function; unmatched names give `undefined`. As in Celery, an
 * array is a list of routers tried in order (each a map, an ordered list of `[pattern, route]` pairs,
 * or a function) and the first match wins; a bare `[pattern, route]` pair is accepted as an entry
 * too, as the config center's schema allows.
 */
export function compileRoutes(routes: TaskRoutes): Matcher {
  if (routes === null || routes === undefined) return () => undefined;
  if (Array.isArray(routes)) {
    const matchers = (routes as ReadonlyArray<RouteMap | RouterFn | RoutePair>).map(compileRouter);
    return (taskName) => {
      for (const m of matchers) {
        const hit = m(taskName);
        if (hit !== undefined) return hit;
      }
      return undefined;
    };
  }
  if (typeof routes === 'object' || typeof routes === 'function') return compileRouter(routes as RouteMap | RouterFn);
  return () => undefined;
}

/** Expands a route value into a `Route`; `undefined` when it names no queue. */
export function expandRoute(spec: RouteSpec | undefined): Route | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (typeof spec === 'string') return { queue: spec, routing_key: spec };
  const queue = spec.queue ?? spec.exchange;
  if (!queue) return undefined;
  const route: Route = { queue, routing_key: spec.routing_key ?? queue };
  if (spec.priority !== undefined && spec.priority !== null) route.priority = spec.priority;
  return route;
}

/**
 * The queue a task goes to under `task_routes` (dict, list of dicts, globs; first match wins);
 * unmatched names go to `defaultQueue`.
 */
export function routeFor(taskName: string, routes: TaskRoutes, defaultQueue: string): Route {
  return expandRoute(compileRoutes(routes)(taskName)) ?? { queue: defaultQueue, routing_key: defaultQueue };
}

function specObject(
  spec: RouteSpec | undefined,
): { queue?: string; routing_key?: string; priority?: number; exchange?: string; exchange_type?: string } | undefined {
  if (spec === undefined || spec === null) return undefined;
  return typeof spec === 'string' ? { queue: spec } : spec;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The route of one send as Celery 5.2 computes it (`Router.route`, then `send_task_message`), with
 * the app's queue table: the call's `queue`/`exchange`/`routing_key`/`exchange_type` beat the
 * task's own `queue`, which beats `task_routes`; with neither a queue nor an exchange, the default
 * queue. The exchange type is the call's or route's `exchange_type`, else the queue's exchange type
 * in `task_queues`, else the type `task_queues` gives the named exchange, else direct. A direct route without both an exchange and a routing key goes to
 * the queue's list (the default exchange, routing key = queue name), as Celery converts it; any
 * other goes through the exchange (`queue` empty), with the routing key given, else the queue's
 * binding key, else `task_default_routing_key`. A queue not in `task_queues` with
 * `task_create_missing_queues` false throws ApplyOptionsError (Celery's QueueNotFound).
 */
export function resolveDestination(
  name: string,
  call: { queue?: string; priority?: number; exchange?: string; routing_key?: string; exchange_type?: string },
  own: { queue?: string; priority?: number },
  routes: RouteMatcher,
  queues: TaskQueues,
  defaultRoutingKey: string,
): Route {
  const routed = specObject(routes(name));
  let queue = nonEmpty(call.queue) ?? nonEmpty(own.queue) ?? nonEmpty(routed?.queue);
  const exchange = nonEmpty(call.exchange) ?? nonEmpty(routed?.exchange);
  const givenKey = typeof call.routing_key === 'string' ? call.routing_key : routed?.routing_key;
  const routingKey = nonEmpty(givenKey);
  const typeName = nonEmpty(call.exchange_type) ?? nonEmpty(routed?.exchange_type);
  // Celery's Router adds the default queue when no route matched; send_task_message when neither
  // a queue nor an exchange is known.
  if (queue === undefined && (routed === undefined || exchange === undefined)) queue = queues.defaultQueue;
  const binding = queue !== undefined ? queues.bindingOf(queue) : undefined;
  if (queue !== undefined && binding === undefined) {
    throw new ApplyOptionsError(
      `queue "${queue}" of task ${name} is missing from task_queues and task_create_missing_queues is false`,
    );
  }
  if (typeName !== undefined && typeName !== 'direct' && typeName !== 'topic' && typeName !== 'fanout') {
    throw new ApplyOptionsError(`exchange_type of task ${name} must be direct, topic or fanout, got "${typeName}"`);
  }
  // Where kombu would take an exchange it has not declared in this process for direct, the
  // type task_queues gives the exchange is used: a topic route matches its topic bindings.
  const type =
    (typeName as ExchangeType | undefined) ??
    binding?.exchangeType ??
    (exchange !== undefined ? queues.exchangeTypeOf(exchange) : undefined) ??
    'direct';
  const priority = call.priority ?? own.priority ?? routed?.priority;
  let route: Route;
  if ((exchange === undefined || routingKey === undefined) && type === 'direct') {
    if (queue === undefined) {
      throw new ApplyOptionsError(
        `task ${name} is routed to exchange "${exchange}" without a routing_key: give the routing key (or a queue)`,
      );
    }
    route = { queue, routing_key: queue === nonEmpty(routed?.queue) ? (routingKey ?? queue) : queue };
  } else if (exchange !== undefined) {
    route = { queue: '', exchange, routing_key: givenKey ?? '', exchange_type: type };
  } else {
    route = {
      queue: '',
      exchange: (binding as QueueBinding).exchange,
      routing_key: routingKey ?? ((binding as QueueBinding).routingKey || defaultRoutingKey),
      exchange_type: type,
    };
  }
  if (priority !== undefined && priority !== null) route.priority = priority;
  return route;
}

/**
 * The route of one send: the per-call `queue`, else the task's own `queue` option, else
 * `task_routes` (through `routes`), else `defaultQueue`. The priority comes from the call, else the
 * task's option, else the route. A routed queue keeps its route's `routing_key`. With `queues`
 * (the app's queue table) it is {@link resolveDestination}: routes by exchange included.
 */
export function resolveRoute(
  name: string,
  call: { queue?: string; priority?: number },
  own: { queue?: string; priority?: number },
  routes: RouteMatcher,
  defaultQueue: string,
  queues?: { table: TaskQueues; defaultRoutingKey: string },
): Route {
  if (queues) return resolveDestination(name, call, own, routes, queues.table, queues.defaultRoutingKey);
  const routed = expandRoute(routes(name));
  const queue = call.queue ?? (typeof own.queue === 'string' ? own.queue : undefined) ?? routed?.queue;
  const route: Route = queue
    ? { queue, routing_key: queue === routed?.queue ? (routed.routing_key ?? queue) : queue }
    : { queue: defaultQueue, routing_key: defaultQueue };
  const priority = call.priority ?? own.priority ?? routed?.priority;
  if (priority !== undefined && priority !== null) route.priority = priority;
  return route;
}
