import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { type DecodeOptions, decodeTaskEnvelope } from '@celeriac/protocol';
import { WorkerLostError } from './celery-exceptions.js';
import type { DuplicateCheck } from './duplicate-check.js';
import { WorkerError } from './errors.js';
import type { EtaDeferral } from './eta-deferral.js';
import { EtaScheduler } from './eta-scheduler.js';
import type { Executor } from './executor.js';
import type { FleetHooks, FleetLimiter } from './fleet-limiter.js';
import { isRunning, type Job, type JobCustody } from './job-custody.js';
import type { MessageRejection } from './message-rejection.js';
import { RateLimiter } from './rate-limiter.js';
import type { ResultFlusher } from './result-flusher.js';
import type { StartMarks } from './start-marks.js';
import { buildTaskPlan, type TaskPlan } from './task-plan.js';
import type { WorkerApp } from './worker-app.js';
import type { WaitingJobs } from './worker-control.js';
import { failsOnWorkerLost, type WorkerSettings } from './worker-settings.js';

/** What the dispatcher works with. */
export interface DispatcherOptions {
  app: WorkerApp;
  settings: WorkerSettings;
  decodeOptions: DecodeOptions;
  /** Most jobs running at once: the pool's size, read at every turn (pool_grow / pool_shrink change it). */
  pool: { readonly concurrency: number };
  custody: JobCustody;
  executor: Executor;
  rejection: MessageRejection;
  flusher: ResultFlusher;
  /** The fetch loop, poked whenever there may be room for more. */
  consumer: { poke(): void };
  logger: Logger;
  /**
   * Where messages go whose eta lies beyond `settings.etaHorizonMs` (or that find
   * `settings.etaMaxHeld` eta messages held already): the broker's delayed set. Null: all wait here.
   */
  deferral: EtaDeferral | null;
  /**
   * Records the start of redelivered messages before they run (so a crash is counted against the
   * redelivery limit); one that already crashed a worker then runs alone. Null: no marks.
   */
  marks: StartMarks | null;
  /**
   * Reads the stored result of a redelivered message's task before it runs: one with a final
   * state is acked without running (`worker.duplicate_skipped`). Null or absent: no check.
   */
  duplicates?: DuplicateCheck | null;
  /** Builds the fleet-wide limiter (fleet-limiter.ts) with the dispatcher's hooks; absent: none. */
  fleetLimiter?: ((hooks: FleetHooks) => FleetLimiter) | undefined;
}

/**
 * Every registered task's plan, resolved up front so that bad options stop start-up, all
 * reported together (`WORKER_BAD_SETTING`).
 */
export function planAllTasks(app: WorkerApp, settings: WorkerSettings): Map<string, TaskPlan> {
  const plans = new Map<string, TaskPlan>();
  const problems: string[] = [];
  for (const task of app.tasks.values()) {
    try {
      plans.set(task.name, buildTaskPlan(app, task, settings));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new WorkerError('WORKER_BAD_SETTING', `Invalid task options:\n- ${problems.join('\n- ')}`);
  }
  return plans;
}

/**
 * The way in for deliveries: decode → plan → custody (held) → eta (here up to the horizon, else the
 * broker's delayed set) → rate limit → a free slot → the executor. A message that cannot run is
 * rejected (dead-lettered), never thrown. Messages waiting for their eta here do not count against
 * the prefetch limit (Celery raises its prefetch count for each one).
 */
export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly custody: JobCustody;
  private readonly executor: Executor;
  private readonly pool: { readonly concurrency: number };
  private readonly decodeOptions: DecodeOptions;
  private readonly consumer: { poke(): void };
  private readonly plans: Map<string, TaskPlan>;
  private readonly eta: EtaScheduler<Job>;
  private readonly limiter: RateLimiter<Job>;
  private readonly deferral: EtaDeferral | null;
  private readonly etaHorizonMs: number;
  private readonly etaMaxHeld: number;
  private readonly marks: StartMarks | null;
  /** Fleet-wide limits, after the per-worker rate limit (null: none). */
  readonly fleet: FleetLimiter | null;
  private readonly duplicates: DuplicateCheck | null;
  private skippedCount = 0;
  /** Started (slot taken) redelivered jobs that crashed a worker before: each waits to run alone. */
  private suspects: Job[] = [];
  /** The suspect running alone: nothing else starts meanwhile. */
  private alone: Job | null = null;
  private ready: Job[] = [];
  private readyHead = 0;
  private pumping = false;
  private batching = false;
  private open = true;
  private rejectedCount = 0;

  constructor(options: DispatcherOptions, plans: Map<string, TaskPlan>) {
    this.o = options;
    this.custody = options.custody;
    this.executor = options.executor;
    this.pool = options.pool;
    this.decodeOptions = options.decodeOptions;
    this.consumer = options.consumer;
    this.plans = plans;
    this.deferral = options.deferral;
    this.etaHorizonMs = options.settings.etaHorizonMs;
    this.etaMaxHeld = options.settings.etaMaxHeld;
    this.marks = options.marks;
    this.duplicates = options.duplicates ?? null;
    this.eta = new EtaScheduler<Job>((job) => this.due(job));
    this.limiter = new RateLimiter<Job>((job) => {
      if (this.fleet !== null && !this.fleet.admit(job)) return;
      this.ready.push(job);
      this.pump();
    });
    this.fleet = options.fleetLimiter?.(this.fleetHooks()) ?? null;
  }

  /** What the fleet limiter calls: a job passed its fleet limits; a waiting job goes to the delayed set. */
  private fleetHooks(): FleetHooks {
    return {
      onReady: (job) => {
        this.ready.push(job);
      },
      pump: () => this.pump(),
      defer: (job, dueMs) => {
        // A job waiting for a fleet limit must follow a change of that limit: where moved messages
        // cannot get new due times (RabbitMQ's delay levels), it stays held here instead.
        if (this.deferral === null || !this.deferral.reschedulable) return false;
        this.custody.defer(job);
        this.deferral.add({ delivery: job.delivery, taskId: job.message.id, task: job.message.task, dueMs });
        return true;
      },
      redefer: (items) => this.deferral?.reschedule(items),
    };
  }

  /** Held jobs waiting for a fleet limit. */
  get fleetWaitingCount(): number {
    return this.fleet?.size ?? 0;
  }

  /** Held jobs waiting for a fleet limit that binds: they take no prefetch slots (the limiter bounds them). */
  get fleetParkedCount(): number {
    return this.fleet?.parked ?? 0;
  }

  /** Held jobs waiting for a slot. */
  get readyCount(): number {
    return this.ready.length - this.readyHead;
  }

  /** Held jobs waiting for their eta. */
  get etaCount(): number {
    return this.eta.size;
  }

  /** Held jobs waiting for a rate-limit token. */
  get rateLimitedCount(): number {
    return this.limiter.size;
  }

  /** Messages rejected (dead-lettered). */
  get rejected(): number {
    return this.rejectedCount;
  }

  /** Redelivered messages acked without running: their task had completed already. */
  get duplicatesSkipped(): number {
    return this.skippedCount;
  }

  /** Control: the held jobs that do not run yet, where they wait (`inspect reserved` / `scheduled`). */
  waitingJobs(): WaitingJobs {
    const ready = this.ready.slice(this.readyHead);
    const fleet = this.fleet?.items() ?? [];
    return { ready, eta: this.eta.entries(), rateLimited: [...this.limiter.items(), ...fleet] };
  }

  /** Control (revoke): takes the waiting jobs `match` selects out of the ready queue, eta heap and limiter. */
  dropWaiting(match: (job: Job) => boolean): Job[] {
    const ready = this.ready.slice(this.readyHead);
    const out = [...ready.filter(match), ...this.eta.remove(match), ...this.limiter.remove(match)];
    if (this.fleet !== null) out.push(...this.fleet.remove(match));
    if (out.length > 0) [this.ready, this.readyHead] = [ready.filter((job) => !match(job)), 0];
    return out;
  }

  /** Control: the plan new messages of `name` get (undefined when the task is unknown or its options bad). */
  planOf(name: string): TaskPlan | undefined {
    const plan = this.planFor(name);
    return plan === null || plan instanceof Error ? undefined : plan;
  }

  /** Control: a changed plan (rate or time limits) for new messages; rate-limited ones follow its rate at once. */
  replacePlan(plan: TaskPlan): void {
    this.plans.set(plan.name, plan);
    this.limiter.setRate(plan.name, plan.rateLimitPerSec);
  }

  /** Takes a batch in; tasks that can run now start before this returns. */
  take(deliveries: Delivery[]): void {
    this.batching = true;
    for (let i = 0; i < deliveries.length; i++) {
      const delivery = deliveries[i] as Delivery;
      try {
        this.accept(delivery);
      } catch (error) {
        // A message must never stop the worker, whatever it holds.
        this.rejectedCount++;
        this.o.rejection.reject(delivery, {
          code: 'unexpected',
          reason: `could not handle the message: ${String(error)}`,
          error,
        });
      }
    }
    this.batching = false;
    this.pump(false);
    // Results of the tasks this batch ran synchronously go out now, ahead of the next fetch.
    this.o.flusher.sendQueued();
    this.consumer.poke();
  }

  private planFor(name: string): TaskPlan | null | Error {
    const cached = this.plans.get(name);
    if (cached !== undefined) return cached;
    const task = this.o.app.tasks.get(name);
    try {
      // Celery's built-in tasks (celery.map, celery.chord_unlock, ...) unless the app defines the name.
      const plan =
        task === undefined
          ? this.o.executor.builtinPlan(name, this.o.settings)
          : buildTaskPlan(this.o.app, task, this.o.settings);
      if (plan === undefined) return null;
      this.plans.set(name, plan);
      return plan;
    } catch (error) {
      return error as Error;
    }
  }

  private accept(delivery: Delivery): void {
    const decoded = decodeTaskEnvelope(delivery.raw, this.decodeOptions);
    if (!decoded.ok) {
      this.rejectedCount++;
      this.o.rejection.reject(delivery, decoded);
      return;
    }
    const m = decoded.message;
    const plan = this.planFor(m.task);
    if (plan === null || plan instanceof Error) {
      this.rejectedCount++;
      this.o.rejection.reject(
        delivery,
        plan === null
          ? { code: 'not_registered', reason: `task ${m.task} is not registered`, taskId: m.id, taskName: m.task }
          : { code: 'bad_task_options', reason: plan.message, taskId: m.id, taskName: m.task },
      );
      return;
    }
    const job = this.custody.receive(delivery, m, plan);
    // Revoked (REVOKED stored, acked): it never waits nor runs. Otherwise `task-received` is sent.
    if (!this.executor.received(job)) return;
    if (m.eta !== null) {
      const dueMs = m.eta.getTime();
      const now = Date.now();
      if (dueMs > now && !(m.expires !== null && m.expires.getTime() <= now)) {
        if (this.deferral !== null && (dueMs - now > this.etaHorizonMs || this.eta.size >= this.etaMaxHeld)) {
          this.custody.defer(job);
          this.deferral.add({ delivery, taskId: m.id, task: m.task, dueMs });
          return;
        }
        this.eta.schedule(dueMs, job);
        return;
      }
    }
    this.due(job);
  }

  private due(job: Job): void {
    const rate = job.plan.rateLimitPerSec;
    if (rate !== null && !this.limiter.admit(job.plan.name, rate, job)) return;
    if (this.fleet !== null && !this.fleet.admit(job)) return;
    this.ready.push(job);
    if (!this.batching) this.pump();
  }

  /** Starts ready jobs while slots are free; call it whenever a slot frees up. */
  pump(poke = true): void {
    if (this.pumping) return;
    this.fleet?.sweep();
    this.pumping = true;
    try {
      this.runSuspects();
      while (
        this.open &&
        this.alone === null &&
        this.suspects.length === 0 &&
        this.custody.running < this.pool.concurrency &&
        this.readyHead < this.ready.length
      ) {
        const job = this.ready[this.readyHead] as Job;
        this.ready[this.readyHead++] = undefined as unknown as Job;
        this.startJob(job);
      }
      if (this.readyHead === this.ready.length) {
        this.ready = [];
        this.readyHead = 0;
      } else if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
    } finally {
      this.pumping = false;
    }
    if (poke) this.consumer.poke();
  }

  /** Once only the parked suspects hold slots, runs them one at a time. */
  private runSuspects(): void {
    for (;;) {
      if (this.alone !== null && isRunning(this.alone)) return;
      this.alone = null;
      this.suspects = this.suspects.filter((job) => job.state === 'running');
      if (this.suspects.length === 0 || this.custody.running !== this.suspects.length) return;
      const job = this.suspects.shift() as Job;
      this.alone = job;
      this.execute(job, false);
    }
  }

  private startJob(job: Job): void {
    this.custody.start(job);
    // A redelivered message may be the copy of a run that completed (result stored, ack lost):
    // checked first, so that neither a run nor an expiry overwrites the stored result.
    if (this.duplicates !== null && job.message.redelivered) {
      this.duplicates.check(job.message.id, (state) => this.checked(job, state));
    } else this.proceed(job);
  }

  /** The slot is taken (and a redelivered message is not a duplicate): expire, mark or run. */
  private proceed(job: Job): void {
    const expires = job.message.expires;
    if (expires !== null && expires.getTime() <= Date.now()) this.execute(job, true);
    else if (this.marks !== null && (job.message.redelivered || failsOnWorkerLost(job, this.o.settings))) {
      this.marks.mark(job.delivery.deliveryTag, (crashes) => this.marked(job, crashes));
    } else this.execute(job, false);
  }

  /** A redelivered job's task has `state` stored (null: none final): ack without running, or go on. */
  private checked(job: Job, state: string | null): void {
    if (job.state !== 'running') return;
    if (state === null) {
      this.proceed(job);
      return;
    }
    const m = job.message;
    this.skippedCount++;
    this.o.logger.info(
      { event: 'worker.duplicate_skipped', task_id: m.id, task: m.task, state, delivery_tag: job.delivery.deliveryTag },
      `Task ${m.id} was redelivered after it completed (${state} stored); acked without running it again`,
    );
    this.custody.finish(job, null);
  }

  /** A redelivered job's start is recorded; one that was running when a worker died runs alone. */
  private marked(job: Job, crashes: number): void {
    if (job.state !== 'running') return;
    if (crashes > 0 && failsOnWorkerLost(job, this.o.settings)) {
      this.o.logger.warn(
        { event: 'worker.task_worker_lost', task_id: job.message.id, task: job.message.task, crashes },
        `Task ${job.message.id} was running when its worker died; FAILURE (WorkerLostError) stored, not run again (task_reject_on_worker_lost is false)`,
      );
      this.executor.crashed(job, new WorkerLostError());
      return;
    }
    if (crashes === 0) {
      this.execute(job, false);
      return;
    }
    this.o.logger.warn(
      { event: 'worker.task_suspect', task_id: job.message.id, task: job.message.task, crashes },
      `Task ${job.message.id} was running when a worker died ${crashes} time(s); it runs alone`,
    );
    this.suspects.push(job);
    this.pump();
  }

  private execute(job: Job, expired: boolean): void {
    try {
      if (expired) this.executor.revokeExpired(job);
      else this.executor.run(job);
    } catch (error) {
      this.executor.crashed(job, error);
    }
  }

  /** Starts no more jobs from now on (a worker about to recycle); `takeWaiting()` hands them back. */
  stopStarting(): void {
    this.open = false;
  }

  /**
   * Shutdown: starts nothing more, and hands every held-but-not-started job (ready, eta-waiting,
   * rate-limited) over to `handed_back`; the caller requeues their messages.
   */
  takeWaiting(): Job[] {
    this.open = false;
    const jobs = this.ready.slice(this.readyHead);
    this.ready = [];
    this.readyHead = 0;
    jobs.push(...this.eta.drain(), ...this.limiter.drain(), ...(this.fleet?.drain() ?? []));
    for (const job of jobs) this.custody.handBack(job);
    return jobs;
  }

  /** Stops the eta and rate-limit timers; idempotent. */
  close(): void {
    this.eta.close();
    this.limiter.close();
  }
}
