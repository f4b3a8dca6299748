import type { Delivery } from '@celeriac/broker';
import type { ResultDocument, TaskMessage } from '@celeriac/protocol';
import { WorkerError } from './errors.js';
import type { TaskPlan } from './task-plan.js';

/**
 * Where a job is in this worker's custody. A message becomes a job when it is received and
 * decoded; from then on it is held. Transitions (any other report throws `WORKER_JOB_STATE`):
 *
 * | report     | from                                | to              |
 * | ---------- | ----------------------------------- | --------------- |
 * | `receive`  | (received message)                  | `held`          |
 * | `start`    | `held`                              | `running`       |
 * | `ackEarly` | `running`                           | `running_acked` |
 * | `finish`   | `running`, `running_acked`          | `acked`         |
 * | `finish`   | `handed_back`, `abandoned`          | (ignored)       |
 * | `handBack` | `held`, `running`                   | `handed_back`   |
 * | `abandon`  | `running_acked`                     | `abandoned`     |
 * | `defer`    | `held` (not started)                | `deferred`      |
 *
 * - `held`: waiting for a slot (ready queue, eta, rate limit); counts against the prefetch limit.
 * - `running`: its function runs and its ack is not sent yet (acks_late, or a sync task whose ack
 *   goes out with its result); still held.
 * - `running_acked`: its function runs and its ack is queued (early ack): no longer held.
 * - `acked`: over: its result (if any) and its ack are queued on the flusher.
 * - `handed_back`: given back to its queue at shutdown, not started, or unfinished and not acked.
 * - `abandoned`: still running at shutdown but acked already: it will not run again.
 * - `deferred`: its eta lies beyond the horizon: handed to the deferral, which moves the message
 *   to the broker's delayed set and acks it there (or hands it back if it cannot).
 * What a handed-back or abandoned job does later is ignored.
 */
export type JobState = 'held' | 'running' | 'running_acked' | 'acked' | 'handed_back' | 'abandoned' | 'deferred';

/** One decoded message in this worker's custody; only `JobCustody` changes its state. */
export interface Job {
  readonly delivery: Delivery;
  readonly message: TaskMessage;
  readonly plan: TaskPlan;
  readonly state: JobState;
  /** `performance.now()` when it started running; 0 before (Celery's `time_start`, task runtime). */
  readonly startedAt: number;
  /** `Date.now()` when it was received (task health's queue wait). */
  readonly receivedAt: number;
}

/** A job as the custody sees it: the one place its state is written. */
interface CustodyJob extends Job {
  state: JobState;
  startedAt: number;
}

/** Where acks (and the results that go with them) are queued: the `ResultFlusher`. */
export interface AckSink {
  add(doc: ResultDocument | null, tag: string | null): void;
}

/** Whether the job's function is running (its outcome is still awaited). */
export function isRunning(job: Job): boolean {
  return job.state === 'running' || job.state === 'running_acked';
}

/** What shutdown does with the jobs still running. */
export interface ReleasedJobs {
  /** Not acked: handed back to their queues (their messages must be requeued). */
  handedBack: Job[];
  /** Acked at start: they will not run again (log them). */
  abandoned: Job[];
}

/**
 * The one owner of every job's custody state and of the counts derived from it: `held` (taken and
 * neither acked nor handed back: what the prefetch limit bounds), `running` and `finished`. The
 * worker reports receipts, starts and hand-backs; the executor reports early acks and outcomes.
 * A report the job's state does not allow throws a `WORKER_JOB_STATE` error naming that state.
 */
export class JobCustody {
  private heldCount = 0;
  private runningCount = 0;
  private finishedCount = 0;
  private readonly active = new Set<Job>();

  /**
   * @param acks where acks and results are queued
   * @param onFinished called after a running job finished (its slot is free)
   */
  constructor(
    private readonly acks: AckSink,
    private readonly onFinished: () => void,
  ) {}

  /** Jobs taken and neither acked nor handed back. */
  get held(): number {
    return this.heldCount;
  }

  /** Jobs whose function runs. */
  get running(): number {
    return this.runningCount;
  }

  /** Jobs finished with an outcome (result and ack queued), expired ones included. */
  get finished(): number {
    return this.finishedCount;
  }

  /** The jobs whose function runs now (`inspect active`). */
  runningJobs(): IterableIterator<Job> {
    return this.active.values();
  }

  /** Takes a received, decoded message into custody: it is held from now on. */
  receive(delivery: Delivery, message: TaskMessage, plan: TaskPlan): Job {
    this.heldCount++;
    const job: CustodyJob = { delivery, message, plan, state: 'held', startedAt: 0, receivedAt: Date.now() };
    return job;
  }

  /** held → running: the job got a slot. */
  start(job: Job): void {
    if (job.state !== 'held') throw illegal(job, 'start');
    (job as CustodyJob).state = 'running';
    (job as CustodyJob).startedAt = performance.now();
    this.runningCount++;
    this.active.add(job);
  }

  /** running → running_acked: queues the ack now (no acks_late); the job no longer counts as held. */
  ackEarly(job: Job): void {
    if (job.state !== 'running') throw illegal(job, 'be acked early');
    (job as CustodyJob).state = 'running_acked';
    this.heldCount--;
    this.acks.add(null, job.delivery.deliveryTag);
  }

  /**
   * running / running_acked → acked: queues `doc` (may be null) with the ack, or alone when the
   * ack went out early, and frees the slot. Ignored for a job handed back or abandoned meanwhile.
   */
  finish(job: Job, doc: ResultDocument | null): void {
    const state = job.state;
    if (state === 'running') {
      (job as CustodyJob).state = 'acked';
      this.heldCount--;
      this.acks.add(doc, job.delivery.deliveryTag);
    } else if (state === 'running_acked') {
      (job as CustodyJob).state = 'acked';
      if (doc !== null) this.acks.add(doc, null);
    } else if (state === 'handed_back' || state === 'abandoned') {
      return;
    } else {
      throw illegal(job, 'finish');
    }
    this.runningCount--;
    this.finishedCount++;
    this.active.delete(job);
    this.onFinished();
  }

  /** held / running → handed_back (shutdown): the caller requeues its message. */
  handBack(job: Job): void {
    if (job.state === 'running') {
      this.runningCount--;
      this.active.delete(job);
    } else if (job.state !== 'held') {
      throw illegal(job, 'be handed back');
    }
    (job as CustodyJob).state = 'handed_back';
    this.heldCount--;
  }

  /** held → deferred: the eta is beyond the horizon; the deferral now answers for the message. */
  defer(job: Job): void {
    if (job.state !== 'held') throw illegal(job, 'be deferred');
    (job as CustodyJob).state = 'deferred';
    this.heldCount--;
  }

  /** running_acked → abandoned (shutdown): acked at start, still running, will not run again. */
  abandon(job: Job): void {
    if (job.state !== 'running_acked') throw illegal(job, 'be abandoned');
    (job as CustodyJob).state = 'abandoned';
    this.runningCount--;
    this.active.delete(job);
  }

  /** Shutdown: hands back every running job not acked yet and abandons the acked ones. */
  releaseRunning(): ReleasedJobs {
    const released: ReleasedJobs = { handedBack: [], abandoned: [] };
    for (const job of [...this.active]) {
      if (job.state === 'running') {
        this.handBack(job);
        released.handedBack.push(job);
      } else {
        this.abandon(job);
        released.abandoned.push(job);
      }
    }
    return released;
  }
}

function illegal(job: Job, action: string): WorkerError {
  return new WorkerError(
    'WORKER_JOB_STATE',
    `Job ${job.message.id} (${job.message.task}) cannot ${action}: it is ${job.state}. ` +
      'This is a bug in the worker runtime; please report it with this message.',
  );
}
