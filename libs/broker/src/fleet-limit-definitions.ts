import { parseRateLimit } from '@celeriac/protocol';
import { BrokerArgumentError } from './errors.js';

/** Annotation keys (in `task_annotations` or a task's options) of a task's fleet-wide limits. */
export const FLEET_ANNOTATION_KEYS = [
  'fleet_rate_limit',
  'fleet_concurrency',
  'fleet_limit_key',
  'fleet_lease',
] as const;

/** The Celeriac setting of per-queue (and per-task) fleet limits. */
export const FLEET_LIMITS_SETTING = 'celeriac_fleet_limits';

/** Lease of a concurrency slot when none is given: a dead worker's slot returns after this. */
export const DEFAULT_FLEET_LEASE_MS = 30_000;

/** Seconds of tokens a bucket saves up at most (its burst), at least one token. */
const BURST_SEC = 0.25;

/** One fleet-wide limit: every Celeriac worker sharing the broker enforces it together. */
export interface FleetLimit {
  /** `task:<task name>` or `queue:<queue name>`. */
  id: string;
  scope: 'task' | 'queue';
  /** The task name or queue name it applies to. */
  target: string;
  /** As written (`'20/s'`, `'10/m'`, a number per second), null: no rate limit. */
  rate: string | number | null;
  /** Tasks per second across the fleet, null: none. */
  ratePerSec: number | null;
  /** Most running at once across the fleet, null: none. */
  concurrency: number | null;
  /**
   * A task argument: the limit holds per value of it (per tenant). A kwarg name, a name of the
   * task's `params`, or a positional index (`"0"`); null: one limit for all.
   */
  key: string | null;
  /** Lease of a concurrency slot, ms. */
  leaseMs: number;
}

/** What lives in Redis under `celeriac.fleet-limits`: the limits in force for the whole fleet. */
export interface FleetLimitDocument {
  version: 1;
  /** The center revision it came from, null when not from a center. */
  revision: number | null;
  /** Who wrote it (`agent <node>`, a test, ...). */
  source: string;
  limits: FleetLimit[];
}

/** Most tokens a bucket of this rate saves up. */
export function fleetCapacity(ratePerSec: number): number {
  return Math.max(1, Math.ceil(ratePerSec * BURST_SEC));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The options of one limit, in either spelling (`fleet_rate_limit` in annotations, `rate_limit` in the setting). */
interface LimitOptions {
  rate: unknown;
  concurrency: unknown;
  key: unknown;
  lease: unknown;
}

function buildLimit(scope: 'task' | 'queue', target: string, o: LimitOptions, where: string): FleetLimit | null {
  let ratePerSec: number | null;
  try {
    ratePerSec = parseRateLimit(o.rate as string | number | null | undefined);
  } catch (error) {
    throw new BrokerArgumentError(`${where}: ${(error as Error).message}; use "100/s", "10/m", "1000/h"`);
  }
  const concurrency = o.concurrency ?? null;
  if (concurrency !== null && !(Number.isInteger(concurrency) && (concurrency as number) >= 1)) {
    throw new BrokerArgumentError(`${where}: concurrency must be an integer ≥ 1, got ${JSON.stringify(concurrency)}`);
  }
  const key = o.key ?? null;
  if (key !== null && !(typeof key === 'string' && key !== '')) {
    throw new BrokerArgumentError(`${where}: key must be an argument name or index, got ${JSON.stringify(key)}`);
  }
  const lease = o.lease ?? null;
  if (lease !== null && !(typeof lease === 'number' && Number.isFinite(lease) && lease > 0)) {
    throw new BrokerArgumentError(`${where}: lease must be a number of seconds > 0, got ${JSON.stringify(lease)}`);
  }
  if (ratePerSec === null && concurrency === null) return null;
  return {
    id: `${scope}:${target}`,
    scope,
    target,
    rate: ratePerSec === null ? null : (o.rate as string | number),
    ratePerSec,
    concurrency: concurrency as number | null,
    key: key as string | null,
    leaseMs: lease === null ? DEFAULT_FLEET_LEASE_MS : Math.round((lease as number) * 1000),
  };
}

function annotationMaps(annotations: unknown): Record<string, unknown>[] {
  if (Array.isArray(annotations)) return annotations.filter(isObject);
  return isObject(annotations) ? [annotations] : [];
}

/**
 * The fleet limits a set of Celery settings defines: `task_annotations` entries with
 * `fleet_rate_limit` / `fleet_concurrency` (plus `fleet_limit_key`, `fleet_lease`), and the
 * `celeriac_fleet_limits` setting (`{ queues: { <queue>: { rate_limit, concurrency, key, lease } },
 * tasks: { <task>: {...} } }`). The first annotation naming a task wins, as in Celery; a task named
 * in both places takes the setting's entry. `"*"` annotations are refused (a fleet limit names its
 * task). Throws `BrokerArgumentError` naming the bad entry.
 */
export function fleetLimitsFromSettings(settings: Record<string, unknown>): FleetLimit[] {
  const byId = new Map<string, FleetLimit>();
  for (const map of annotationMaps(settings.task_annotations)) {
    for (const [task, options] of Object.entries(map)) {
      if (!isObject(options) || !FLEET_ANNOTATION_KEYS.some((k) => options[k] !== undefined)) continue;
      if (task === '*') {
        throw new BrokerArgumentError('task_annotations["*"]: fleet limits name their task; "*" is not supported');
      }
      if (byId.has(`task:${task}`)) continue;
      const limit = buildLimit('task', task, fleetTaskOptions(options), `task_annotations["${task}"]`);
      if (limit !== null) byId.set(limit.id, limit);
    }
  }
  const setting = settings[FLEET_LIMITS_SETTING];
  if (setting !== undefined && setting !== null) {
    if (!isObject(setting)) throw new BrokerArgumentError(`${FLEET_LIMITS_SETTING} must be an object`);
    for (const scope of ['queues', 'tasks'] as const) {
      const entries = setting[scope];
      if (entries === undefined || entries === null) continue;
      if (!isObject(entries)) throw new BrokerArgumentError(`${FLEET_LIMITS_SETTING}.${scope} must be an object`);
      for (const [target, options] of Object.entries(entries)) {
        if (options === null) continue;
        const where = `${FLEET_LIMITS_SETTING}.${scope}["${target}"]`;
        if (!isObject(options)) throw new BrokerArgumentError(`${where} must be an object`);
        const o = {
          rate: options.rate_limit,
          concurrency: options.concurrency,
          key: options.key,
          lease: options.lease,
        };
        const limit = buildLimit(scope === 'queues' ? 'queue' : 'task', target, o, where);
        if (limit !== null) byId.set(limit.id, limit);
        else byId.delete(`${scope === 'queues' ? 'queue' : 'task'}:${target}`);
      }
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A task's `fleet_*` options as limit options (`fleet_rate_limit` → rate, ...). */
export function fleetTaskOptions(options: Record<string, unknown>): LimitOptions {
  return {
    rate: options.fleet_rate_limit,
    concurrency: options.fleet_concurrency,
    key: options.fleet_limit_key,
    lease: options.fleet_lease,
  };
}

/** The limit of one task from its `fleet_*` options (task options with annotations applied); null: none. */
export function fleetTaskLimit(task: string, options: Record<string, unknown>): FleetLimit | null {
  return buildLimit('task', task, fleetTaskOptions(options), `task ${task}`);
}

/** Reads a fleet limit document; throws `BrokerArgumentError` when it is not one. */
export function parseFleetLimitDocument(text: string): FleetLimitDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new BrokerArgumentError(`the fleet limit document is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(doc) || doc.version !== 1 || !Array.isArray(doc.limits)) {
    throw new BrokerArgumentError('the fleet limit document has no version 1 and limits list');
  }
  const limits: FleetLimit[] = [];
  for (const entry of doc.limits) {
    if (!isObject(entry) || (entry.scope !== 'task' && entry.scope !== 'queue') || typeof entry.target !== 'string') {
      throw new BrokerArgumentError(`the fleet limit document has a bad limit ${JSON.stringify(entry)}`);
    }
    const lease = typeof entry.leaseMs === 'number' ? entry.leaseMs / 1000 : null;
    const o = { rate: entry.rate, concurrency: entry.concurrency, key: entry.key, lease };
    const limit = buildLimit(entry.scope, entry.target, o, `fleet limit ${entry.scope}:${entry.target}`);
    if (limit !== null) limits.push(limit);
  }
  return {
    version: 1,
    revision: typeof doc.revision === 'number' ? doc.revision : null,
    source: typeof doc.source === 'string' ? doc.source : 'unknown',
    limits,
  };
}
