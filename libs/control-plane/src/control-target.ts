/**
 * What the worker gives the pidbox server: a narrow view of its state and a few levers. Every method
 * returns plain data (or a promise of it); the server shapes Celery's reply (`control-replies.ts`).
 * `ping`, `clock`, `revoked`, `hello`, `enable_events`, `disable_events` and `heartbeat` need no
 * target method: the server answers them from its clock, the RevokedSet and the event dispatcher.
 */

export type MaybePromise<T> = T | Promise<T>;

/** One task request, as `inspect active`/`reserved` list it (Celery's `Request.info()`). */
export interface TaskRequestInfo {
  id: string;
  /** Task name (after `shadow`, as Celery shows it). */
  name: string;
  /** The registered task type; defaults to `name`. */
  type?: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** `argsrepr` header (shown by `active(safe=True)`); defaults to a Python repr of `args`. */
  argsrepr?: string;
  kwargsrepr?: string;
  /** When the task started running, unix seconds (float); null while it waits. */
  timeStart: number | null;
  acknowledged: boolean;
  /** Where the message came from. `redelivered` is kombu's flag (null on Redis unless restored). */
  deliveryInfo: { exchange: string; routingKey: string; priority: number; redelivered: boolean | null };
  /** Pid of the process running it (the worker's own pid for Celeriac); null while it waits. */
  workerPid: number | null;
}

/** A task waiting for its eta/countdown (`inspect scheduled`). */
export interface ScheduledRequestInfo {
  /** ISO 8601 eta as the message carried it, or null. */
  eta: string | null;
  priority: number;
  request: TaskRequestInfo;
}

/** A registered task (`inspect registered`); `attributes` holds Celery's task attribute names. */
export interface RegisteredTaskInfo {
  name: string;
  /** e.g. `{ rate_limit: '10/m', exchange: null, routing_key: null, acks_late: false }`. */
  attributes?: Record<string, unknown>;
}

/** Worker figures for `inspect stats`; the server adds pid, clock, uptime, rusage and broker. */
export interface WorkerStatsInfo {
  /** Tasks completed since start, by task name. */
  total: Record<string, number>;
  /** How many tasks may run at once (`pool.max-concurrency`). */
  concurrency: number;
  prefetchCount: number;
  /** `pool.processes`; defaults to `[process.pid]`. */
  processes?: number[];
  maxTasksPerChild?: number | null;
  /** Merged last into the reply (e.g. `{ pool: {...} }` to override the pool section). */
  extra?: Record<string, unknown>;
}

/** A queue the worker consumes (`inspect active_queues`). */
export interface ActiveQueueInfo {
  name: string;
  exchange?: string | null;
  exchangeType?: string;
  routingKey?: string | null;
}

/** A task of `inspect query_task`: whether it runs or waits, and its request. */
export interface QueriedTask {
  state: 'active' | 'reserved' | 'ready';
  request: TaskRequestInfo;
}

/** Result of a per-task setting change: applied, or the task is not registered here. */
export type TaskSettingResult = 'ok' | 'unknown_task';

export interface ControlTarget {
  /** The node name (`celeriac@host`), matched against `destination`. */
  readonly hostname: string;
  /** Requests running now. */
  active(): MaybePromise<TaskRequestInfo[]>;
  /** Requests received and waiting to run (prefetched, rate-limited), not counting scheduled ones. */
  reserved(): MaybePromise<TaskRequestInfo[]>;
  /** Requests waiting for their eta/countdown. */
  scheduled(): MaybePromise<ScheduledRequestInfo[]>;
  registered(): MaybePromise<RegisteredTaskInfo[]>;
  stats(): MaybePromise<WorkerStatsInfo>;
  activeQueues(): MaybePromise<ActiveQueueInfo[]>;
  /** Settings as Celery names them (`broker_url` with its password masked, ...). */
  conf(withDefaults: boolean): MaybePromise<Record<string, unknown>>;
  /** The requests among `ids` this worker holds. */
  queryTask(ids: string[]): MaybePromise<QueriedTask[]>;
  /** A multi-line text about the installation (`inspect report`). */
  report(): MaybePromise<string>;
  /**
   * Sets a task's rate limit at once, no restart (`rateLimit` is the string as sent, already
   * checked with Celery's rules, or null for "no limit").
   */
  rateLimit(taskName: string, rateLimit: string | null): MaybePromise<TaskSettingResult>;
  /** Sets a task's soft and hard time limits in seconds (null = none). */
  timeLimit(taskName: string, soft: number | null, hard: number | null): MaybePromise<TaskSettingResult>;
  addConsumer(
    queue: string,
    options: { exchange: string | null; exchangeType: string; routingKey: string | null },
  ): MaybePromise<void>;
  cancelConsumer(queue: string): MaybePromise<void>;
  /** Begins a warm shutdown (Celery sends no reply to this command). */
  shutdown(reason: string): void;
  /**
   * Called after `ids` were added to the RevokedSet: drop the waiting ones (eta, prefetched,
   * rate-limited) with a REVOKED result, and with `terminate` abort the running ones
   * (`signal` is a name such as `SIGTERM`). Returns the ids it terminated.
   */
  revoke(ids: string[], options: { terminate: boolean; signal: string }): MaybePromise<string[]>;
  /** Optional pool resizing (`pool_grow`/`pool_shrink`); without it the command gets an error reply. */
  poolGrow?(n: number): MaybePromise<void>;
  poolShrink?(n: number): MaybePromise<void>;
}
