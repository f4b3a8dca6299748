import { z } from 'zod';
import { fleetLimitStatusSchema, MAX_FLEET_LIMIT_ROWS } from './fleet-limit-status-schema.js';
import { PROGRAM_KINDS } from './program-schema.js';

/** States a supervised program can be in. */
export const PROGRAM_STATES = ['starting', 'running', 'backoff', 'stopping', 'stopped', 'fatal'] as const;
export type ProgramState = (typeof PROGRAM_STATES)[number];

/** The result of the agent's last apply. */
export const APPLY_RESULTS = ['ok', 'failed', 'invalid', 'pending'] as const;
export type ApplyResult = (typeof APPLY_RESULTS)[number];

/** How a program's process last ended. */
export const lastExitSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: z.string().min(1),
});

export type LastExit = z.infer<typeof lastExitSchema>;

/** Longest heartbeat period an agent may announce (one day). */
export const MAX_HEARTBEAT_MS = 86_400_000;

/**
 * One worker process as the agent's `inspect ping` sees it (celeriac and celery workers): whether
 * it answered the last probes, and how many tasks it runs and holds when it did.
 */
export const workerHealthSchema = z.object({
  /** False once the worker missed two probes in a row (a busy or hung event loop, a lost broker). */
  responding: z.boolean(),
  /** `inspect active` count at the last answer. */
  active: z.number().int().min(0).optional(),
  /** `inspect reserved` count (prefetched, rate-limited) at the last answer. */
  reserved: z.number().int().min(0).optional(),
  /** When it last answered a ping (ISO 8601), null when it never did. */
  last_reply_at: z.string().nullable().optional(),
});

export type WorkerHealth = z.infer<typeof workerHealthSchema>;

const rate = z.number().min(0);
const seconds = z.number().min(0).nullable();

/** Counts of task outcomes over the summary window. */
export const healthCountsSchema = z.object({
  received: z.number().int().min(0),
  succeeded: z.number().int().min(0),
  failed: z.number().int().min(0),
  retried: z.number().int().min(0),
  rejected: z.number().int().min(0),
  revoked: z.number().int().min(0),
});

/**
 * A program's measured health over the agent's last window (apps/agent/src/health-windows.ts):
 * outcome counts and rates, runtime and queue-wait percentiles (from the shared log-scale
 * histogram buckets, so an upper bound of the bucket), restarts and crash loops. Sent by newer
 * agents only; the rollout gates read it.
 */
export const programHealthSchema = z.object({
  /** Where the figures come from: the worker's health file, Celery's task events, or its `inspect stats` totals (received only). */
  source: z.enum(['health_file', 'task_events', 'inspect_stats', 'none']),
  window_s: z.number().positive(),
  counts: healthCountsSchema,
  /** Per second over the window. */
  rates: z.object({ received: rate, succeeded: rate, failed: rate, retried: rate, rejected: rate, revoked: rate }),
  /** failed / (succeeded + failed) over the window; null when nothing ended. */
  failure_ratio: z.number().min(0).max(1).nullable(),
  runtime_p50_s: seconds,
  runtime_p95_s: seconds,
  queue_wait_p50_s: seconds,
  queue_wait_p95_s: seconds,
  /** Crash restarts within the last 5 minutes, and in all. */
  restarts_5m: z.number().int().min(0),
  /** In backoff or FATAL, or 3 or more crash restarts within 5 minutes. */
  crash_loop: z.boolean(),
  /** Sum over the program's processes at their last report. */
  rss_bytes: z.number().int().min(0).optional(),
  /** Worst event-loop delay p99 among its processes over their last second (ms). */
  loop_lag_p99_ms: z.number().min(0).optional(),
  tasks: z
    .record(z.string(), healthCountsSchema.extend({ runtime_p95_s: seconds, queue_wait_p95_s: seconds }))
    .optional(),
  /**
   * `unavailable` when the agent cannot measure the program's task outcomes (a Python worker whose
   * layers set `worker_send_task_events: false`), `outcomes_reason` saying why: `counts` then hold
   * only what else is known (`inspect stats` received totals), and gates have no data, not a pass.
   * Absent when outcomes are measured (and from older agents).
   */
  outcomes: z.enum(['unavailable']).optional(),
  outcomes_reason: z.string().max(200).optional(),
});

export type ProgramHealth = z.infer<typeof programHealthSchema>;

/** One program in a status report. */
export const programStatusSchema = z.object({
  kind: z.enum(PROGRAM_KINDS),
  state: z.enum(PROGRAM_STATES),
  pids: z.array(z.number().int().positive()),
  restarts: z.number().int().min(0),
  config_hash: z.string(),
  last_exit: lastExitSchema.nullable(),
  /** Per worker node name (`-n`): the agent's pidbox probe; absent for commands and older agents. */
  workers: z.record(z.string(), workerHealthSchema).optional(),
  /** False when a worker of the program stopped answering `inspect ping`; absent when not probed. */
  responding: z.boolean().optional(),
  /** Measured task health over the agent's last window; absent from older agents. */
  health: programHealthSchema.optional(),
});

/** POST /v1/nodes/<node>/status body: what the agent applied and how its programs are doing. */
export const nodeStatusSchema = z.object({
  applied_revision: z.number().int().min(0).nullable(),
  attempted_revision: z.number().int().min(0).optional(),
  apply_result: z.enum(APPLY_RESULTS),
  message: z.string().max(4096).optional(),
  drift: z.boolean().optional(),
  programs: z.record(z.string(), programStatusSchema),
  agent: z.object({ pid: z.number().int().positive(), started_at: z.string(), version: z.string() }).optional(),
  /**
   * How often this agent reports even when nothing changed, in ms. The center marks the node stale
   * after 3 missed heartbeats; older agents leave it out and get the center's `--heartbeat`.
   */
  heartbeat_ms: z.number().int().positive().max(MAX_HEARTBEAT_MS).optional(),
  /** Fleet-wide limits in force on the node's broker and their state (fleet-limit-status-schema.ts). */
  fleet_limits: z.array(fleetLimitStatusSchema).max(MAX_FLEET_LIMIT_ROWS).optional(),
});

export type ProgramStatus = z.infer<typeof programStatusSchema>;
export type NodeStatus = z.infer<typeof nodeStatusSchema>;
