/**
 * Life cycle of a worker: `created → starting → running → draining → stopped`, or `failed`.
 *
 * - `created`: built, nothing connected. `close()` now goes straight to `stopped`.
 * - `starting`: connecting; a shutdown asked for now waits for start-up to end.
 * - `running`: consuming.
 * - `draining`: shutting down (warm or cold): fetching stopped, held messages handed back.
 * - `stopped`: everything handed back or finished, connections closed. Final.
 * - `failed`: start-up failed (bad settings, cannot connect: nothing is held, connections are
 *   closed), or a fatal error while running (`fail()`: cold shutdown, then `failed`). Final.
 *
 * Every transition is logged as `worker.state` (`from`, `to`, `reason` when there is one) and
 * emitted as the `state` event; any transition not in `WORKER_STATE_TRANSITIONS` is a bug.
 */
export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** The transitions a worker makes, by state. */
export const WORKER_STATE_TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  created: ['starting', 'stopped', 'failed'],
  starting: ['running', 'failed'],
  running: ['draining'],
  draining: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

/**
 * Why the state changed:
 * `closed_before_start` (created → stopped), `start_failed` (starting → failed),
 * `warm_shutdown` / `cold_shutdown` (running → draining), `fatal_error` (→ draining → failed, or
 * created → failed), `force_timeout` (draining → stopped after the force deadline passed).
 */
export type WorkerStateReason =
  | 'closed_before_start'
  | 'start_failed'
  | 'warm_shutdown'
  | 'cold_shutdown'
  | 'fatal_error'
  | 'force_timeout';

/** One state change, as the `state` event passes it. */
export interface WorkerStateChange {
  from: WorkerState;
  to: WorkerState;
  reason?: WorkerStateReason;
  /** The error behind a change to `failed`. */
  error?: unknown;
}

/** The events a `Worker` emits and their listeners. */
export interface WorkerEvents {
  /** The state changed to `state` (also logged as `worker.state`). */
  state: (state: WorkerState, change: WorkerStateChange) => void;
  /** Connected and consuming (right after the change to `running`). */
  ready: () => void;
}

/** Whether a worker may go from `from` to `to`. */
export function canTransition(from: WorkerState, to: WorkerState): boolean {
  return WORKER_STATE_TRANSITIONS[from].includes(to);
}
