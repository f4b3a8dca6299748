import type { Logger } from '@celeriac/logger';
import { SoftTimeLimitExceeded, TimeLimitExceeded } from './celery-exceptions.js';
import type { Job } from './job-custody.js';
import type { RuntimeTaskContext } from './task-context.js';

/** How a watched run ended: its value, its error, or the hard limit (`hardLimit` true). */
export interface RunOutcome {
  value(value: unknown): void;
  error(error: unknown, hardLimit: boolean): void;
}

/** Per-run state of an async task with limits. */
interface Run {
  settled: boolean;
  softTimer: NodeJS.Timeout | null;
  hardTimer: NodeJS.Timeout | null;
}

/**
 * Soft and hard time limits of async tasks: at the soft limit the task's signal is aborted
 * (`SoftTimeLimitExceeded`); at the hard limit the worker stops waiting (`TimeLimitExceeded`, the
 * slot is freed) and whatever the task does later is ignored.
 */
export class TimeLimitedRuns {
  private readonly runs = new Set<Run>();

  constructor(private readonly logger: Logger) {}

  /** Runs inside their time-limit bookkeeping. */
  get size(): number {
    return this.runs.size;
  }

  /** Waits for `promise` under the limits (seconds, null = none); `outcome` hears exactly one ending. */
  watch(
    job: Job,
    promise: PromiseLike<unknown>,
    ctx: RuntimeTaskContext | null,
    limits: { hardSec: number | null; softSec: number | null },
    outcome: RunOutcome,
  ): void {
    const m = job.message;
    const { hardSec, softSec } = limits;
    const run: Run = { settled: false, softTimer: null, hardTimer: null };
    this.runs.add(run);
    if (softSec !== null && (hardSec === null || softSec < hardSec)) {
      run.softTimer = setTimeout(() => {
        run.softTimer = null;
        this.logger.warn(
          { event: 'worker.task_soft_time_limit', task_id: m.id, task: m.task, soft_time_limit_s: softSec },
          'Soft time limit exceeded; signalling the task to stop',
        );
        ctx?.abort(new SoftTimeLimitExceeded(softSec));
      }, softSec * 1000);
    }
    if (hardSec !== null) {
      run.hardTimer = setTimeout(() => {
        run.hardTimer = null;
        if (run.settled) return;
        const error = new TimeLimitExceeded(hardSec);
        this.logger.error(
          { event: 'worker.task_time_limit', task_id: m.id, task: m.task, time_limit_s: hardSec },
          'Hard time limit exceeded; the slot is freed and the task is stored as failed',
        );
        ctx?.abort(error);
        this.settle(run);
        outcome.error(error, true);
      }, hardSec * 1000);
    }
    promise.then(
      (value) => {
        if (run.settled) return;
        this.settle(run);
        outcome.value(value);
      },
      (error: unknown) => {
        if (run.settled) return;
        this.settle(run);
        outcome.error(error, false);
      },
    );
  }

  private settle(run: Run): void {
    run.settled = true;
    if (run.softTimer !== null) clearTimeout(run.softTimer);
    if (run.hardTimer !== null) clearTimeout(run.hardTimer);
    run.softTimer = null;
    run.hardTimer = null;
    this.runs.delete(run);
  }

  /** Stops every timer (the worker gives up on whatever still runs); later endings are ignored. */
  close(): void {
    for (const run of this.runs) this.settle(run);
  }
}
