import { constants } from 'node:os';
import { runAsCurrentTask } from '@celeriac/client';
import type { Logger } from '@celeriac/logger';
import type { ResultDocument, Serializer } from '@celeriac/protocol';
import { buildArguments } from './build-arguments.js';
import { builtinPlan } from './builtin-tasks.js';
import {
  CeleryTaskRevokedError,
  EncodeError,
  MaxRetriesExceededError,
  Retry,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
} from './celery-exceptions.js';
import { chordPartReturn, endsChordPart } from './chord-join.js';
import { callErrbacks, errbackRequest } from './errbacks.js';
import { exceptionDocument } from './exception-document.js';
import { retryMessage, sourceQueue, successFollowUps } from './follow-up-messages.js';
import { buildFollowUps, publishFollowUps } from './follow-up-publish.js';
import { isRunning, type Job, type JobCustody } from './job-custody.js';
import type { MessageRejection } from './message-rejection.js';
import { type Outcome, resultDocument, storeAs } from './result-document.js';
import { errorName, isThenable, unencodableResult } from './result-encoding.js';
import { DATE_DONE_AT_FLUSH, type ResultFlusher } from './result-flusher.js';
import { RuntimeTaskContext } from './task-context.js';
import { NO_TASK_EVENTS, type TaskEvents } from './task-events.js';
import { taskHealth } from './task-health.js';
import { autoretryCountdownSec, type TaskPlan } from './task-plan.js';
import { TimeLimitedRuns } from './time-limited-runs.js';
import type { WorkerApp } from './worker-app.js';
import { isCanvasBackend, WorkerCanvas } from './worker-canvas.js';
import type { WorkerSettings } from './worker-settings.js';

/** Dependencies of the executor. */
export interface ExecutorOptions {
  app: WorkerApp;
  /** Where early acks and outcomes are reported (it queues them with their acks). */
  custody: JobCustody;
  /** For STARTED documents (they carry no ack). */
  flusher: ResultFlusher;
  /** `result_extended`: documents also carry name, args, kwargs, worker, retries and queue. */
  resultExtended?: boolean;
  /** `result_serializer` as read (and checked) by `readWorkerSettings`; json unless told. */
  resultSerializer?: Serializer;
  /** Direct result writes for `ctx.updateState` (not batched: the task awaits them). */
  store(doc: ResultDocument): Promise<void>;
  logger: Logger;
  hostname: string;
  /** A task with this hard limit (ms) is about to run (the event-loop watchdog needs the largest). */
  onHardLimit(limitMs: number): void;
  /** The fleet's revoked ids (`RevokedSet`): checked when a message is received and before it runs. */
  revoked?: { has(taskId: string): boolean };
  /** Task events (`-E`); each site checks `events.on` first. */
  events?: TaskEvents;
  /** The worker's result backend, for chords (counting parts, sending bodies) and the canvas built-ins. */
  canvasBackend?: unknown;
  /**
   * Where an acks_late task that failed or timed out goes when `task_acks_on_failure_or_timeout`
   * is false (Celery rejects it without requeue: here, the dead-letter list). Without it, acked.
   */
  rejection?: MessageRejection;
}

/**
 * Runs one task: maps arguments, calls the function (sync or async), applies soft and hard time
 * limits, turns the outcome into a result document (SUCCESS, FAILURE, RETRY, REVOKED), publishes
 * retries, link callbacks and chain steps, and reports the early ack and the outcome to the job's
 * custody (which queues them). A job no longer running (handed back at shutdown) is left alone.
 */
export class Executor {
  private readonly app: WorkerApp;
  private readonly custody: JobCustody;
  private readonly flusher: ResultFlusher;
  private readonly logger: Logger;
  private readonly hostname: string;
  private readonly origin: string;
  private readonly onHardLimit: (limitMs: number) => void;
  private readonly store: (doc: ResultDocument) => Promise<void>;
  private readonly limits: TimeLimitedRuns;
  private readonly resultExtended: boolean;
  /** `result_serializer`: results are checked against it and stored in it. */
  private readonly serializer: Serializer;
  private readonly revoked: { has(taskId: string): boolean };
  private readonly events: TaskEvents;
  /** Tasks started, by name (`inspect stats` total), and all names together (heartbeats' `processed`). */
  readonly totals = new Map<string, number>();
  private startedCount = 0;
  /** Contexts of running async `bind` tasks: what `terminate` aborts. */
  private readonly contexts = new Map<Job, RuntimeTaskContext>();
  /** Running jobs revoked with terminate: REVOKED is stored; whatever they end with later is dropped. */
  private readonly terminated = new Set<Job>();
  /** Chords, errbacks and the built-in tasks: signatures sent from inside the worker. */
  private readonly canvas: WorkerCanvas;
  /** `task_acks_on_failure_or_timeout` (default true): false rejects failed acks_late messages instead. */
  private readonly acksOnFailure: boolean;
  /** `task_store_errors_even_if_ignored`: ignore_result tasks still store FAILURE. */
  private readonly storeErrorsEvenIfIgnored: boolean;
  private readonly rejection: MessageRejection | null;
  /** `task_inherit_parent_priority`: callbacks and chain steps go out with the task's priority. */
  private readonly inheritPriority: boolean;

  /** Throws `WORKER_BAD_SETTING` when `result_serializer` is not json or msgpack. */
  constructor(options: ExecutorOptions) {
    this.app = options.app;
    this.custody = options.custody;
    this.flusher = options.flusher;
    this.logger = options.logger;
    this.hostname = options.hostname;
    this.origin = `gen${process.pid}@${options.hostname.includes('@') ? options.hostname.split('@')[1] : options.hostname}`;
    this.onHardLimit = options.onHardLimit;
    this.limits = new TimeLimitedRuns(options.logger);
    this.resultExtended = options.resultExtended === true;
    this.revoked = options.revoked ?? { has: () => false };
    this.events = options.events ?? NO_TASK_EVENTS;
    this.canvas = new WorkerCanvas({
      app: this.app,
      backend: isCanvasBackend(options.canvasBackend) ? options.canvasBackend : null,
      logger: this.logger,
      origin: this.origin,
    });
    const conf = options.app.conf.settings;
    this.acksOnFailure = conf.task_acks_on_failure_or_timeout !== false;
    this.storeErrorsEvenIfIgnored = conf.task_store_errors_even_if_ignored === true;
    this.rejection = options.rejection ?? null;
    this.inheritPriority = conf.task_inherit_parent_priority === true;
    const serializer = options.resultSerializer ?? 'json';
    this.serializer = serializer;
    this.flusher.storeAs(serializer);
    const store = options.store;
    // A STARTED still queued in the flusher goes out first, or it would overwrite this update.
    this.store =
      serializer === 'json'
        ? (doc) => {
            this.flusher.sendQueued();
            return store(doc);
          }
        : (doc) => {
            this.flusher.sendQueued();
            return store(storeAs(doc, serializer));
          };
  }

  /** The plan of a Celery built-in task (`celery.map`, `celery.chord_unlock`, ...) the app does not define. */
  builtinPlan(name: string, settings: WorkerSettings): TaskPlan | undefined {
    return builtinPlan(this.canvas, name, settings);
  }

  /**
   * Ends a job, first counting it as a chord part when it is one (Celery's `on_chord_part_return`
   * after the result is stored): the part that completes the chord sends the body.
   */
  private finishPart(job: Job, doc: ResultDocument | null, state: string, result: unknown): void {
    if (!endsChordPart(job.message, state)) {
      this.custody.finish(job, doc);
      return;
    }
    // Celery stores a part's result before counting it: whoever then sees the body's state can read the part's.
    const backend = this.canvas.backend;
    const stored =
      doc === null || backend === null
        ? Promise.resolve(false)
        : backend.store(doc).then(
            () => true,
            (error: unknown) => {
              this.logger.warn(
                { event: 'worker.chord_part_store_failed', task_id: job.message.id, err: error },
                'Could not store a chord part result before counting it; it is stored with its ack instead',
              );
              return false;
            },
          );
    void stored
      .then((done) => chordPartReturn(this.canvas, job.message, state, result).then(() => done))
      .then((done) => this.custody.finish(job, done ? null : doc));
  }

  /** Tasks started since the worker started (every name). */
  get processed(): number {
    return this.startedCount;
  }

  /**
   * A message just became a held job: false when it is revoked (then it is over already: REVOKED
   * stored and acked, as Celery's strategy does); otherwise sends `task-received` and returns true.
   */
  received(job: Job): boolean {
    taskHealth.received(job.message.task);
    if (this.revoked.has(job.message.id)) {
      this.custody.start(job);
      this.revoke(job, 'revoked');
      return false;
    }
    if (this.events.on) this.events.received(job.message);
    return true;
  }

  /** Stores REVOKED (expired) and acks without running, like Celery (`d2_expired_revoked.json`). */
  revokeExpired(job: Job): void {
    this.revoke(job, 'expired');
  }

  /**
   * Ends a started job that must not run, revoked or expired: stores REVOKED (Celery's
   * `TaskRevokedError(reason)`), sends `task-revoked` and acks.
   */
  revoke(job: Job, reason: 'revoked' | 'expired'): void {
    const m = job.message;
    // A terminate that reached it before it ran (a suspect waiting to run alone) stored REVOKED already.
    if (this.terminated.size !== 0) this.terminated.delete(job);
    const doc = this.ignoresResult(job)
      ? null
      : this.document(job, 'REVOKED', exceptionDocument(new CeleryTaskRevokedError(reason), false));
    const expired = reason === 'expired';
    taskHealth.revoked(m.task);
    const event = expired ? 'worker.task_expired' : 'worker.task_revoked';
    this.logger.info(
      { event, task_id: m.id, task: m.task },
      expired ? 'Task expired before it could run' : 'Discarding revoked task',
    );
    if (this.events.on) this.events.revoked(m.id, { terminated: false, signum: null, expired });
    this.finishPart(job, doc, 'REVOKED', exceptionDocument(new CeleryTaskRevokedError(reason), false).result);
  }

  /**
   * `revoke(terminate=True)` of a running job: aborts its `ctx.signal` (reason
   * `TaskRevokedError('terminated')`), stores REVOKED now and drops whatever the task ends with;
   * its slot frees when it settles (or at its hard limit, when it ignores the signal). False when
   * the job is not running here or was terminated already.
   */
  terminate(job: Job, signal: string): boolean {
    if (!isRunning(job) || this.terminated.has(job)) return false;
    const m = job.message;
    this.terminated.add(job);
    taskHealth.revoked(m.task);
    this.contexts.get(job)?.abort(new CeleryTaskRevokedError('terminated'));
    if (!this.ignoresResult(job)) {
      this.flusher.add(
        this.document(job, 'REVOKED', exceptionDocument(new CeleryTaskRevokedError('terminated'), false)),
        null,
      );
      this.flusher.sendQueued();
    }
    if (m.embed.chord) {
      const reason = exceptionDocument(new CeleryTaskRevokedError('terminated'), false).result;
      void chordPartReturn(this.canvas, m, 'REVOKED', reason);
    }
    const signum = (constants.signals as Record<string, number>)[signal] ?? null;
    if (this.events.on) this.events.revoked(m.id, { terminated: true, signum, expired: false });
    this.logger.warn(
      { event: 'worker.task_terminated', task_id: m.id, task: m.task, signal },
      'Terminating a running task: its signal is aborted and REVOKED is stored',
    );
    return true;
  }

  /** A terminated job settled (or hit its hard limit): ack and free the slot, keep the REVOKED result. */
  private endTerminated(job: Job): boolean {
    if (this.terminated.size === 0 || !this.terminated.delete(job)) return false;
    this.contexts.delete(job);
    this.custody.finish(job, null);
    return true;
  }

  /** Runs a started job now (the caller checked concurrency, eta, expiry and rate limit). */
  run(job: Job): void {
    const { message: m, plan } = job;
    if (this.revoked.has(m.id)) {
      this.revoke(job, 'revoked');
      return;
    }
    this.startedCount++;
    this.totals.set(m.task, (this.totals.get(m.task) ?? 0) + 1);
    taskHealth.started(m.task, job.receivedAt, m.eta === null ? 0 : m.eta.getTime());
    if (this.events.on) this.events.started(m.id);
    if (plan.trackStarted && !this.ignoresResult(job)) {
      this.flusher.add(
        this.document(
          job,
          'STARTED',
          { result: { pid: process.pid, hostname: this.hostname }, traceback: null },
          [],
          null,
        ),
        null,
      );
    }
    let ctx: RuntimeTaskContext | null = null;
    let value: unknown;
    try {
      let args = buildArguments(plan, m);
      if (plan.bind) {
        ctx = new RuntimeTaskContext({
          id: m.id,
          name: m.task,
          retries: m.retries,
          args: m.args,
          kwargs: m.kwargs,
          hostname: this.hostname,
          eta: m.eta,
          rootId: m.rootId,
          parentId: m.parentId,
          groupId: m.groupId,
          store: this.store,
        });
        args = [ctx, ...args];
      }
      const hardSec = m.timelimit[0] ?? plan.timeLimitSec;
      if (hardSec !== null) this.onHardLimit(hardSec * 1000);
      const fnArgs = args;
      value = runAsCurrentTask({ id: m.id, rootId: m.rootId, priority: m.priority }, () => plan.fn(...fnArgs));
    } catch (error) {
      this.earlyAck(job);
      this.failed(job, error, ctx);
      return;
    }
    if (isThenable(value)) {
      this.earlyAck(job);
      if (ctx !== null) this.contexts.set(job, ctx);
      this.awaitAsync(job, value, ctx);
    } else {
      this.succeeded(job, value);
    }
  }

  private earlyAck(job: Job): void {
    if (!job.plan.acksLate) this.custody.ackEarly(job);
  }

  private awaitAsync(job: Job, promise: PromiseLike<unknown>, ctx: RuntimeTaskContext | null): void {
    const m = job.message;
    const hardSec = m.timelimit[0] ?? job.plan.timeLimitSec;
    const softSec = m.timelimit[1] ?? job.plan.softTimeLimitSec;
    if (hardSec === null && softSec === null) {
      promise.then(
        (value) => this.succeeded(job, value),
        (error: unknown) => this.failed(job, error, ctx),
      );
      return;
    }
    this.limits.watch(
      job,
      promise,
      ctx,
      { hardSec, softSec },
      {
        value: (value) => this.succeeded(job, value),
        error: (error, hardLimit) => this.failed(job, error, hardLimit ? null : ctx, hardLimit),
      },
    );
  }

  private ignoresResult(job: Job): boolean {
    return job.plan.ignoreResult || job.message.ignoreResult;
  }

  /** Celery's `Request.store_errors`: FAILURE is stored unless results are ignored and errors are not kept. */
  private ignoresErrors(job: Job): boolean {
    return !this.storeErrorsEvenIfIgnored && this.ignoresResult(job);
  }

  private document(
    job: Job,
    status: string,
    outcome: Outcome,
    children: unknown[] = [],
    dateDone: string | null = DATE_DONE_AT_FLUSH,
  ): ResultDocument {
    return resultDocument(job.message, status, outcome, children, dateDone, this.resultExtended ? this.hostname : null);
  }

  private succeeded(job: Job, value: unknown): void {
    if (!isRunning(job) || this.endTerminated(job)) return;
    if (this.contexts.size !== 0) this.contexts.delete(job);
    const result = value === undefined ? null : value;
    const problem = unencodableResult(result, this.serializer);
    if (problem !== null) {
      this.failed(job, new EncodeError(problem), null, true);
      return;
    }
    taskHealth.succeeded(job.message.task, job.startedAt);
    if (this.events.on) this.events.succeeded(job.message.id, result, runtimeSec(job));
    const embed = job.message.embed;
    if (embed.callbacks || (embed.chain && embed.chain.length > 0)) {
      // A group, chord or header-part chain step goes through the canvas planner (nested canvases).
      const canvasStep = WorkerCanvas.isCanvasStep(embed.chain);
      const plain = canvasStep ? { ...job.message, embed: { ...embed, chain: null } } : job.message;
      const followUps = buildFollowUps(this.logger, job.message.id, () =>
        successFollowUps(this.app, plain, result, this.origin),
      );
      // Celery's tracer sends callbacks and chain steps with the task's priority under task_inherit_parent_priority.
      const priority = this.inheritPriority ? job.message.priority : null;
      void Promise.all([
        publishFollowUps(this.app, this.logger, job.message.id, followUps, priority),
        canvasStep ? this.canvas.applyChainStep(job.message, result) : [],
      ]).then(([sent, steps]) => {
        const children = [...sent, ...steps];
        this.finishPart(
          job,
          this.ignoresResult(job) ? null : this.document(job, 'SUCCESS', { result, traceback: null }, children),
          'SUCCESS',
          result,
        );
      });
      return;
    }
    this.finishPart(
      job,
      this.ignoresResult(job) ? null : this.document(job, 'SUCCESS', { result, traceback: null }),
      'SUCCESS',
      result,
    );
  }
  /** Ends a job whose handling threw (a bug or hostile input): FAILURE stored, slot freed. */
  crashed(job: Job, error: unknown): void {
    if (!isRunning(job)) return;
    this.logger.error(
      { event: 'worker.task_crashed', task_id: job.message.id, err: error },
      'Handling this task failed',
    );
    const doc = this.ignoresErrors(job) ? null : this.document(job, 'FAILURE', exceptionDocument(error));
    this.custody.finish(job, doc);
  }
  private failed(job: Job, rawError: unknown, ctx: RuntimeTaskContext | null, final = false): void {
    if (!isRunning(job) || this.endTerminated(job)) return;
    if (this.contexts.size !== 0) this.contexts.delete(job);
    let error = rawError;
    if (ctx !== null && error instanceof Error && error.name === 'AbortError') {
      const reason = ctx.abortReason;
      if (reason instanceof SoftTimeLimitExceeded || reason instanceof TimeLimitExceeded) error = reason;
    }
    if (!final) {
      if (error instanceof Retry) {
        void this.retry(job, error);
        return;
      }
      const autoretry = job.plan.autoretryFor;
      if (autoretry !== null) {
        const name = errorName(error);
        if (name !== undefined && autoretry.has(name)) {
          void this.retry(
            job,
            new Retry({
              countdownSec: autoretryCountdownSec(job.plan, job.message.retries),
              eta: null,
              exc: error,
              maxRetries: undefined,
            }),
          );
          return;
        }
      }
    }
    const m = job.message;
    this.logger.warn({ event: 'worker.task_failed', task_id: m.id, task: m.task, err: error }, 'Task failed');
    taskHealth.failed(m.task, job.startedAt);
    if (this.events.on) this.events.failed(m.id, error);
    const outcome = exceptionDocument(error);
    const doc = this.ignoresErrors(job) ? null : this.document(job, 'FAILURE', outcome);
    const errbacks = m.embed.errbacks;
    if ((errbacks && errbacks.length > 0) || (m.embed.chain && m.embed.chain.length > 0)) {
      // Celery's mark_as_failure: the chain's later steps fail too, then the errbacks run.
      void this.failChain(m, outcome)
        .then(() =>
          errbacks && errbacks.length > 0
            ? callErrbacks(this.canvas, errbacks, errbackRequest(m, this.hostname), error, outcome.traceback)
            : undefined,
        )
        .then(() => this.endFailed(job, doc, outcome.result, error));
      return;
    }
    this.endFailed(job, doc, outcome.result, error);
  }

  /**
   * Ends a failed (or timed-out) job. An acks_late job under `task_acks_on_failure_or_timeout:
   * false` is rejected without requeue as Celery's `Request.on_failure` does (here: moved to the
   * dead-letter list, `task-rejected` sent) before its FAILURE is stored; otherwise it is acked.
   */
  private endFailed(job: Job, doc: ResultDocument | null, result: unknown, error: unknown): void {
    if (this.acksOnFailure || !job.plan.acksLate || this.rejection === null || job.state !== 'running') {
      this.finishPart(job, doc, 'FAILURE', result);
      return;
    }
    void this.rejection
      .rejectFailed(job.delivery, job.message.id, job.message.task, error)
      .then(() => this.finishPart(job, doc, 'FAILURE', result));
  }
  /** Stores the failure for every later chain step that has a task id (Celery's `mark_as_failure`), never throws. */
  private async failChain(m: Job['message'], outcome: { result: unknown; traceback: string | null }): Promise<void> {
    const steps = m.embed.chain;
    if (!steps || steps.length === 0) return;
    const docs: ResultDocument[] = [];
    for (const step of steps) {
      const id = step?.options?.task_id;
      if (typeof id !== 'string' || id === '') continue;
      docs.push({
        status: 'FAILURE',
        result: outcome.result,
        traceback: outcome.traceback,
        children: [],
        date_done: DATE_DONE_AT_FLUSH,
        task_id: id,
      });
    }
    for (const doc of docs) this.flusher.add(doc, null);
  }

  private async retry(job: Job, retry: Retry): Promise<void> {
    const m = job.message;
    const maxRetries = retry.maxRetries !== undefined ? retry.maxRetries : job.plan.maxRetries;
    if (maxRetries !== null && m.retries >= maxRetries) {
      const exc =
        retry.exc !== undefined && retry.exc !== null
          ? retry.exc
          : new MaxRetriesExceededError(m.task, m.id, maxRetries);
      this.failed(job, exc, null, true);
      return;
    }
    const delaySec = retry.countdownSec ?? job.plan.defaultRetryDelaySec;
    const eta = retry.eta ?? new Date(Date.now() + delaySec * 1000);
    const outcome =
      retry.exc !== undefined && retry.exc !== null
        ? exceptionDocument(retry.exc)
        : { result: null, traceback: retry.stack ?? `Retry: ${retry.message}` };
    const doc = this.ignoresResult(job) ? null : this.document(job, 'RETRY', outcome, [[[m.id, null], null]], null);
    // RETRY is stored before the new message exists: Celery stores it after republishing, and a
    // fast worker that runs the retry at once would see its SUCCESS overwritten by the late RETRY.
    const stored = doc !== null && (await this.storeBeforeRetry(job, doc));
    const outgoing = retryMessage(m, sourceQueue(m, job.delivery.queue), eta, this.origin);
    try {
      await this.app.publish(outgoing);
    } catch (error) {
      this.logger.error(
        { event: 'worker.task_retry_failed', task_id: m.id, task: m.task, err: error },
        'Could not republish a retry',
      );
      this.failed(job, error, null, true);
      return;
    }
    this.logger.info(
      { event: 'worker.task_retry', task_id: m.id, task: m.task, retries: m.retries + 1, eta: eta.toISOString() },
      'Task retry scheduled',
    );
    taskHealth.retried(m.task, job.startedAt);
    if (this.events.on) this.events.retried(m.id, retry.exc ?? retry);
    this.custody.finish(job, stored ? null : doc);
  }

  /** Stores a RETRY document now; false (logged) when the backend refused, so it goes with the ack instead. */
  private storeBeforeRetry(job: Job, doc: ResultDocument): Promise<boolean> {
    return this.store(doc).then(
      () => true,
      (error: unknown) => {
        this.logger.warn(
          { event: 'worker.retry_store_failed', task_id: job.message.id, err: error },
          'Could not store the RETRY state before republishing; it is stored with the ack instead',
        );
        return false;
      },
    );
  }

  /** Async tasks still inside their time-limit bookkeeping. */
  get trackedRuns(): number {
    return this.limits.size;
  }

  /** Stops all time-limit timers (the worker gives up on whatever still runs); idempotent. */
  close(): void {
    this.limits.close();
    this.contexts.clear();
    this.terminated.clear();
  }
}

/** Seconds since the job started running (Celery's `runtime` of `task-succeeded`). */
function runtimeSec(job: Job): number {
  return job.startedAt > 0 ? (performance.now() - job.startedAt) / 1000 : 0;
}
