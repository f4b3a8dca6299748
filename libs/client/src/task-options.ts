import { parseRateLimit, type Serializer } from '@celeriac/protocol';

/** A task function; sync or async. */
// biome-ignore lint/suspicious/noExplicitAny: task functions take whatever their callers send.
export type TaskFn = (...args: any[]) => unknown;

/**
 * Per-task options (Celery's task attributes), as `app.task(name, fn, options)` and
 * `task_annotations` take them. The one type for the client and the worker (worker-runtime's
 * `WorkerTaskOptions` is this type). Each option says who honours it; any other key is refused.
 */
export interface TaskOptions {
  /** Worker: Celery rate limit, `'10/m'`, `'5/s'`, `'100/h'` or tasks per second; null or 0 = none. */
  rate_limit?: string | number | null;
  /** Worker: ack after the task ran instead of before (default `task_acks_late`). */
  acks_late?: boolean;
  /** Client (the message's `ignore_result`) and worker: store no result (default `task_ignore_result`). */
  ignore_result?: boolean;
  /** Worker: store STARTED when the task begins (default `task_track_started`). */
  track_started?: boolean;
  /** Worker: retries allowed, default 3; null = retry forever. */
  max_retries?: number | null;
  /** Worker: seconds before a retry that gives no countdown; default 180. */
  default_retry_delay?: number;
  /** Client (the `timelimit` header) and worker: hard time limit in seconds; null = none. */
  time_limit?: number | null;
  /** Client (the `timelimit` header) and worker: soft time limit in seconds; null = none. */
  soft_time_limit?: number | null;
  /** Client: body serializer of the task's messages. */
  serializer?: Serializer;
  /** Client: the queue the task is sent to (beats `task_routes`, loses to a per-call `queue`). */
  queue?: string;
  /** Client: default priority of the task's messages, 0–9 (0 is served first). */
  priority?: number;
  /** Worker: parameter names; kwargs sent by a caller are mapped onto these positions. */
  params?: string[];
  /** Worker: the first argument is the task context. */
  bind?: boolean;
  /** Worker: error names (`err.name`) that trigger an automatic retry. */
  autoretry_for?: string[];
  /** Worker, with `autoretry_for`: exponential backoff; `true` = factor 1 s, a number = the factor in seconds. */
  retry_backoff?: boolean | number;
  /** Worker, with `retry_backoff`: the longest delay in seconds; default 600. */
  retry_backoff_max?: number;
  /** Worker, with `retry_backoff`: randomise each delay (default true). */
  retry_jitter?: boolean;
  /** Every Celeriac worker together (docs/fleet-limits.md): one rate limit for the whole fleet, `'20/s'`. */
  fleet_rate_limit?: string | number | null;
  /** Every Celeriac worker together: at most this many running at once across the fleet. */
  fleet_concurrency?: number | null;
  /** With a fleet limit: the limit holds per value of this argument (kwarg or `params` name, or index). */
  fleet_limit_key?: string | null;
  /** With `fleet_concurrency`: seconds a slot's lease lasts (renewed while running; default 30). */
  fleet_lease?: number | null;
}

type Check = (value: unknown) => string | null;

const isBoolean: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const seconds =
  (nullable: boolean): Check =>
  (v) =>
    (nullable && v === null) || (typeof v === 'number' && Number.isFinite(v) && v >= 0)
      ? null
      : `must be a number of seconds ≥ 0${nullable ? ' or null' : ''}`;
const stringList: Check = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '') ? null : 'must be a list of strings';

const CHECKS: Record<keyof TaskOptions, Check> = {
  rate_limit: (v) => {
    try {
      parseRateLimit(v as string | number | null);
      return null;
    } catch {
      return `${JSON.stringify(v) ?? String(v)} is not a rate limit; use "10/m", "5/s", "100/h", a number per second, or null`;
    }
  },
  acks_late: isBoolean,
  ignore_result: isBoolean,
  track_started: isBoolean,
  max_retries: (v) =>
    v === null || (Number.isInteger(v) && (v as number) >= 0) ? null : 'must be an integer ≥ 0, or null for no limit',
  default_retry_delay: seconds(false),
  time_limit: seconds(true),
  soft_time_limit: seconds(true),
  serializer: (v) =>
    v === 'json' || v === 'msgpack' ? null : `${JSON.stringify(v)} is not supported; use "json" or "msgpack"`,
  queue: (v) => (typeof v === 'string' && v !== '' ? null : 'must be a non-empty queue name'),
  priority: (v) =>
    Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255
      ? null
      : 'must be an integer from 0 to 9 (0 is served first)',
  params: stringList,
  bind: isBoolean,
  autoretry_for: stringList,
  retry_backoff: (v) =>
    typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v) && v >= 0)
      ? null
      : 'must be true, false or a number of seconds',
  retry_backoff_max: seconds(false),
  retry_jitter: isBoolean,
  fleet_rate_limit: (v) => {
    try {
      parseRateLimit(v as string | number | null);
      return null;
    } catch {
      return `${JSON.stringify(v) ?? String(v)} is not a rate limit; use "100/s", "10/m", "1000/h", or null`;
    }
  },
  fleet_concurrency: (v) =>
    v === null || (Number.isInteger(v) && (v as number) >= 1) ? null : 'must be an integer ≥ 1, or null',
  fleet_limit_key: (v) => (v === null || (typeof v === 'string' && v !== '') ? null : 'must be an argument name'),
  fleet_lease: (v) =>
    v === null || (typeof v === 'number' && Number.isFinite(v) && v > 0) ? null : 'must be a number of seconds > 0',
};

/** Every option name `TaskOptions` has. */
export const TASK_OPTION_NAMES: readonly (keyof TaskOptions)[] = Object.keys(CHECKS) as (keyof TaskOptions)[];

/** Options of `applyAsync`, not of a task: given to `app.task()` they would be dropped, so they get a hint. */
const PER_CALL_OPTIONS = new Set(['countdown', 'eta', 'expires', 'link', 'link_error', 'task_id', 'headers', 'shadow']);

/**
 * What is wrong with a task options object, one line per problem (empty when it is usable):
 * unknown names (Celery attributes Celeriac does not honour, or typos) and values of the wrong type.
 */
export function taskOptionProblems(options: unknown): string[] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return ['the options must be an object of task options'];
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const check = CHECKS[name as keyof TaskOptions];
    if (check) {
      const problem = check(value);
      if (problem) problems.push(`${name} ${problem}`);
    } else if (PER_CALL_OPTIONS.has(name)) {
      problems.push(`${name} is an option of applyAsync/sendTask, not of a task; pass it with each call`);
    } else {
      problems.push(`${name} is not a task option Celeriac honours; use one of ${TASK_OPTION_NAMES.join(', ')}`);
    }
  }
  return problems;
}
