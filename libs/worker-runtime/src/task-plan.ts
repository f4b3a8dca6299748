import { type FleetLimit, fleetTaskLimit } from '@celeriac/broker';
import { parseRateLimit } from '@celeriac/protocol';
import { WorkerError } from './errors.js';
import type { TaskFn, WorkerApp, WorkerTask } from './worker-app.js';
import type { WorkerSettings } from './worker-settings.js';

/** Everything the worker needs to run one task type, resolved once per name. */
export interface TaskPlan {
  readonly name: string;
  readonly fn: TaskFn;
  readonly params: readonly string[] | null;
  readonly bind: boolean;
  readonly acksLate: boolean;
  readonly ignoreResult: boolean;
  readonly trackStarted: boolean;
  /** Seconds, null = none; a message's `timelimit` header overrides these. */
  readonly timeLimitSec: number | null;
  readonly softTimeLimitSec: number | null;
  /** Tasks per second, null = unlimited. */
  readonly rateLimitPerSec: number | null;
  /** null = retry forever. */
  readonly maxRetries: number | null;
  readonly defaultRetryDelaySec: number;
  readonly autoretryFor: ReadonlySet<string> | null;
  readonly retryBackoff: number;
  readonly retryBackoffMaxSec: number;
  readonly retryJitter: boolean;
  /** Fleet-wide limit from the `fleet_*` task options / annotations (fleet-limiter.ts); null = none. */
  readonly fleetLimit: FleetLimit | null;
}

/** The task's options with `task_annotations` applied, as the app (the client) resolves them. */
function effectiveOptions(app: WorkerApp, task: WorkerTask) {
  // A structural app from plain JS may lack it; merging annotations here too would be a second order.
  if (typeof app.taskOptions !== 'function') {
    throw new WorkerError(
      'WORKER_BAD_OPTIONS',
      `The app has no taskOptions(name) to resolve task ${task.name}'s options and task_annotations; pass a Celeriac app from @celeriac/client.`,
    );
  }
  return app.taskOptions(task.name);
}

function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

/** Resolves the options of a task (task options, `task_annotations`, then global settings). */
export function buildTaskPlan(app: WorkerApp, task: WorkerTask, settings: WorkerSettings): TaskPlan {
  const o = effectiveOptions(app, task);
  let rateLimitPerSec: number | null;
  try {
    rateLimitPerSec = parseRateLimit(o.rate_limit);
  } catch (error) {
    throw new WorkerError(
      'WORKER_BAD_RATE_LIMIT',
      `Task ${task.name} has an invalid rate_limit ${JSON.stringify(o.rate_limit)}: ${(error as Error).message}. Use "10/m", "5/s", "100/h" or a number per second.`,
    );
  }
  const fleetLimit = fleetLimitOf(task.name, o as Record<string, unknown>);
  const backoff = o.retry_backoff === true ? 1 : typeof o.retry_backoff === 'number' ? o.retry_backoff : 0;
  return {
    name: task.name,
    fn: task.fn,
    params: Array.isArray(o.params) && o.params.length > 0 ? o.params : null,
    bind: o.bind === true,
    acksLate: typeof o.acks_late === 'boolean' ? o.acks_late : settings.acksLate,
    ignoreResult: typeof o.ignore_result === 'boolean' ? o.ignore_result : settings.ignoreResult,
    trackStarted: typeof o.track_started === 'boolean' ? o.track_started : settings.trackStarted,
    timeLimitSec: seconds(o.time_limit) ?? settings.timeLimitSec,
    softTimeLimitSec: seconds(o.soft_time_limit) ?? settings.softTimeLimitSec,
    rateLimitPerSec,
    maxRetries: o.max_retries === null ? null : typeof o.max_retries === 'number' ? o.max_retries : 3,
    defaultRetryDelaySec: typeof o.default_retry_delay === 'number' ? o.default_retry_delay : 180,
    autoretryFor: Array.isArray(o.autoretry_for) && o.autoretry_for.length > 0 ? new Set(o.autoretry_for) : null,
    retryBackoff: backoff,
    retryBackoffMaxSec: typeof o.retry_backoff_max === 'number' ? o.retry_backoff_max : 600,
    retryJitter: o.retry_jitter !== false,
    fleetLimit,
  };
}

/** The task's fleet limit (`fleet_rate_limit`, `fleet_concurrency`, `fleet_limit_key`, `fleet_lease`). */
function fleetLimitOf(name: string, options: Record<string, unknown>): FleetLimit | null {
  try {
    return fleetTaskLimit(name, options);
  } catch (error) {
    throw new WorkerError(
      'WORKER_BAD_RATE_LIMIT',
      `Task ${name} has an invalid fleet limit: ${(error as Error).message}.`,
    );
  }
}

/** Countdown of an `autoretry_for` retry: `default_retry_delay`, or exponential backoff (with jitter). */
export function autoretryCountdownSec(plan: TaskPlan, retries: number): number {
  if (plan.retryBackoff <= 0) return plan.defaultRetryDelaySec;
  const countdown = Math.min(plan.retryBackoffMaxSec, plan.retryBackoff * 2 ** retries);
  return plan.retryJitter ? Math.random() * countdown : countdown;
}
