import { type Check, checkInteger, checkNumber, show } from './checks.js';
import { isPlainObject } from './merge-layers.js';
import { checkRateLimit } from './rate-limit.js';

/**
 * Fleet-wide limits (docs/fleet-limits.md): one limit for every Celeriac worker of the fleet,
 * enforced together on the broker Redis. Set per task in `task_annotations` (keys below) or per
 * queue (and per task) in `celeriac_fleet_limits`. A change of them is live: the agent writes
 * them to Redis and no program restarts.
 */
export interface FleetLimitOptions {
  /** `'100/s'`, `'10/m'`, `'1000/h'` or tasks per second, for the whole fleet. */
  rate_limit?: string | number | null;
  /** Most running at once across the fleet. */
  concurrency?: number | null;
  /** The limit holds per value of this task argument (kwarg or `params` name, or index). */
  key?: string | null;
  /** Seconds a concurrency slot's lease lasts (renewed while its task runs; default 30). */
  lease?: number | null;
}

/** `celeriac_fleet_limits`: per queue and per task. */
export interface FleetLimitsSetting {
  queues?: Record<string, FleetLimitOptions | null>;
  tasks?: Record<string, FleetLimitOptions | null>;
}

const checkKey: Check = (value, add) => {
  if (typeof value !== 'string' || value === '') add([], `must be a task argument name or index, got ${show(value)}`);
};

const nullable =
  (check: Check): Check =>
  (value, add, layer) => {
    if (value !== null) check(value, add, layer);
  };

/** The annotation keys of a task's fleet limits and their checks (in `task_annotations`). */
export const FLEET_ANNOTATION_CHECKS: Record<string, Check> = {
  fleet_rate_limit: nullable(checkRateLimit),
  fleet_concurrency: nullable(checkInteger(1, Number.MAX_SAFE_INTEGER)),
  fleet_limit_key: nullable(checkKey),
  fleet_lease: nullable(checkNumber(0, true)),
};

const LIMIT_CHECKS: Record<keyof FleetLimitOptions, Check> = {
  rate_limit: nullable(checkRateLimit),
  concurrency: nullable(checkInteger(1, Number.MAX_SAFE_INTEGER)),
  key: nullable(checkKey),
  lease: nullable(checkNumber(0, true)),
};

const checkLimitMap =
  (what: string): Check =>
  (value, add, layer) => {
    if (!isPlainObject(value)) {
      add([], `must be an object of ${what} name to limits, e.g. {"celery": {"rate_limit": "100/s"}}`);
      return;
    }
    for (const [name, options] of Object.entries(value)) {
      if (options === null) continue;
      if (!isPlainObject(options)) {
        add([name], `must be an object of limits (rate_limit, concurrency, key, lease), got ${show(options)}`);
        continue;
      }
      for (const [option, item] of Object.entries(options)) {
        const check = LIMIT_CHECKS[option as keyof FleetLimitOptions];
        if (check === undefined) {
          add([name, option], 'is not a fleet limit option; use rate_limit, concurrency, key or lease');
        } else if (item !== undefined) check(item, (path, message) => add([name, option, ...path], message), layer);
      }
    }
  };

/** Checks `celeriac_fleet_limits`: `{ queues?: {...}, tasks?: {...} }`. */
export const checkFleetLimits: Check = (value, add, layer) => {
  if (value === null) return;
  if (!isPlainObject(value)) {
    add([], `must be an object {"queues": {...}, "tasks": {...}}, got ${show(value)}`);
    return;
  }
  for (const [scope, entries] of Object.entries(value)) {
    if (scope === 'queues' || scope === 'tasks') {
      if (entries !== null)
        checkLimitMap(scope === 'queues' ? 'queue' : 'task')(entries, (p, m) => add([scope, ...p], m), layer);
    } else add([scope], 'must be "queues" or "tasks"');
  }
};

function annotationMaps(annotations: unknown): Record<string, unknown>[] {
  if (Array.isArray(annotations)) return annotations.filter(isPlainObject);
  return isPlainObject(annotations) ? [annotations] : [];
}

function stripAnnotations(annotations: unknown): unknown {
  const strip = (map: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(map)
        .map(([task, options]): [string, unknown] => {
          if (!isPlainObject(options)) return [task, options];
          const rest = Object.fromEntries(Object.entries(options).filter(([k]) => !(k in FLEET_ANNOTATION_CHECKS)));
          return [task, rest];
        })
        .filter(([, options]) => !(isPlainObject(options) && Object.keys(options).length === 0)),
    );
  if (Array.isArray(annotations)) return annotations.map((m) => (isPlainObject(m) ? strip(m) : m));
  return isPlainObject(annotations) ? strip(annotations) : annotations;
}

/**
 * Celery settings without their fleet limits (the `fleet_*` annotation keys and
 * `celeriac_fleet_limits`): what a change must touch to restart a program. Fleet limits are live.
 */
export function withoutFleetLimits(celery: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...celery };
  delete out.celeriac_fleet_limits;
  if (out.task_annotations !== undefined) {
    const stripped = stripAnnotations(out.task_annotations);
    const empty =
      (isPlainObject(stripped) && Object.keys(stripped).length === 0) ||
      (Array.isArray(stripped) && stripped.every((m) => isPlainObject(m) && Object.keys(m).length === 0));
    // Annotations that held only fleet limits are no annotations at all (as if never set).
    if (empty) delete out.task_annotations;
    else out.task_annotations = stripped;
  }
  return out;
}

/** Only the fleet limits of Celery settings (for the live-change reason and the agent). */
export function fleetLimitsOf(celery: Record<string, unknown>): Record<string, unknown> {
  const annotations: Record<string, Record<string, unknown>> = {};
  for (const map of annotationMaps(celery.task_annotations)) {
    for (const [task, options] of Object.entries(map)) {
      if (!isPlainObject(options) || Object.hasOwn(annotations, task)) continue;
      const fleet = Object.fromEntries(Object.entries(options).filter(([k]) => k in FLEET_ANNOTATION_CHECKS));
      if (Object.keys(fleet).length > 0) annotations[task] = fleet;
    }
  }
  const out: Record<string, unknown> = {};
  if (Object.keys(annotations).length > 0) out.task_annotations = annotations;
  if (celery.celeriac_fleet_limits !== undefined && celery.celeriac_fleet_limits !== null) {
    out.celeriac_fleet_limits = celery.celeriac_fleet_limits;
  }
  return out;
}
