import type { Logger } from '@celeriac/logger';
import { type OutgoingTask, type ResultDocument, type Serializer, serialize } from '@celeriac/protocol';
import { buildArguments } from './build-arguments.js';
import {
  CeleryTaskRevokedError,
  EncodeError,
  MaxRetriesExceededError,
  Retry,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
} from './celery-exceptions.js';
import { exceptionDocument } from './exception-document.js';
import { errorFollowUps, retryMessage, sourceQueue, successFollowUps } from './follow-up-messages.js';
import { isRunning, type Job, type JobCustody } from './job-custody.js';
import { type Outcome, resultDocument, resultSerializerSetting, storeAs } from './result-document.js';
import { DATE_DONE_AT_FLUSH, type ResultFlusher } from './result-flusher.js';
import { RuntimeTaskContext } from './task-context.js';
import type { WorkerApp } from './worker-app.js';

/** Dependencies of the executor. */
export interface ExecutorOptions {
  app: WorkerApp;
  /** Where early acks and outcomes are reported (it queues them with their acks). */
  custody: JobCustody;
  /** For STARTED documents (they carry no ack). */
  flusher: ResultFlusher;
  /** `result_extended`: documents also carry name, args, kwargs, worker, retries and queue. */
  resultExtended?: boolean;
  /** Direct result writes for `ctx.updateState` (not batched: the task awaits them). */
  store(doc: ResultDocument): Promise<void>;
  logger: Logger;
  hostname: string;
  /** A task with this hard limit (ms) is about to run (the event-loop watchdog needs the largest). */
  onHardLimit(limitMs: number): void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Why a task result cannot be stored as msgpack, or null when it can. */
function unencodableAsMsgpack(result: unknown): string | null {
  const type = typeof result;
  if (type === 'function' || type === 'symbol') return `Task result of type ${type} cannot be encoded as msgpack`;
  if (result === null || (type !== 'object' && type !== 'bigint')) return null;
  try {
    serialize(result, 'msgpack');
    return null;
  } catch (error) {
    return `Task result could not be encoded as msgpack: ${(error as Error).message}`;
  }
}

function errorName(error: unknown): string | undefined {
  if (error instanceof Error) return error.name !== 'Error' ? error.name : error.constructor.name;
  return undefined;
}

/** Per-run state of an async task with limits. */
interface Run {
  job: Job;
  ctx: RuntimeTaskContext | null;
  settled: boolean;
  softTimer: NodeJS.Timeout | null;
  hardTimer: NodeJS.Timeout | null;
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
  private readonly runs = new Set<Run>();
  private readonly resultExtended: boolean;
  /** `result_serializer`: results are checked against it and stored in it. */
  private readonly serializer: Serializer;

  /** Throws `WORKER_BAD_SETTING` when `result_serializer` is not json or msgpack. */
  constructor(options: ExecutorOptions) {
    this.app = options.app;
    this.custody = options.custody;
    this.flusher = options.flusher;
    this.logger = options.logger;
    this.hostname = options.hostname;
    this.origin = `gen${process.pid}@${options.hostname.includes('@') ? options.hostname.split('@')[1] : options.hostname}`;
    this.onHardLimit = options.onHardLimit;
    this.resultExtended = options.resultExtended === true;
    const serializer = resultSerializerSetting(options.app.conf.settings);
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

  /** Stores REVOKED (expired) and acks without running, like Celery (`d2_expired_revoked.json`). */
  revokeExpired(job: Job): void {
    const m = job.message;
    const doc = this.ignoresResult(job)
      ? null
      : this.document(job, 'REVOKED', exceptionDocument(new CeleryTaskRevokedError('expired'), false));
    this.logger.info({ event: 'worker.task_expired', task_id: m.id, task: m.task }, 'Task expired before it could run');
    this.custody.finish(job, doc);
  }

  /** Runs a started job now (the caller checked concurrency, eta, expiry and rate limit). */
  run(job: Job): void {
    const { message: m, plan } = job;
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
      value = plan.fn(...args);
    } catch (error) {
      this.earlyAck(job);
      this.failed(job, error, ctx);
      return;
    }
    if (isThenable(value)) {
      this.earlyAck(job);
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
    const run: Run = { job, ctx, settled: false, softTimer: null, hardTimer: null };
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
        this.failed(job, error, null, true);
      }, hardSec * 1000);
    }
    promise.then(
      (value) => {
        if (run.settled) return;
        this.settle(run);
        this.succeeded(job, value);
      },
      (error: unknown) => {
        if (run.settled) return;
        this.settle(run);
        this.failed(job, error, ctx);
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

  private ignoresResult(job: Job): boolean {
    return job.plan.ignoreResult || job.message.ignoreResult;
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
    if (!isRunning(job)) return;
    const result = value === undefined ? null : value;
    if (this.serializer !== 'json') {
      const problem = unencodableAsMsgpack(result);
      if (problem !== null) {
        this.failed(job, new EncodeError(problem), null, true);
        return;
      }
    } else if (result !== null && typeof result === 'object') {
      try {
        JSON.stringify(result);
      } catch (error) {
        this.failed(
          job,
          new EncodeError(`Task result could not be encoded as JSON: ${(error as Error).message}`),
          null,
          true,
        );
        return;
      }
    } else if (typeof result === 'bigint' || typeof result === 'function' || typeof result === 'symbol') {
      this.failed(job, new EncodeError(`Task result of type ${typeof result} cannot be encoded as JSON`), null, true);
      return;
    }
    const embed = job.message.embed;
    if (embed.callbacks || (embed.chain && embed.chain.length > 0)) {
      const followUps = this.followUps(job, () => successFollowUps(this.app, job.message, result, this.origin));
      void this.publishFollowUps(job, followUps).then((children) => {
        this.custody.finish(
          job,
          this.ignoresResult(job) ? null : this.document(job, 'SUCCESS', { result, traceback: null }, children),
        );
      });
      return;
    }
    this.custody.finish(
      job,
      this.ignoresResult(job) ? null : this.document(job, 'SUCCESS', { result, traceback: null }),
    );
  }

  /** Builds follow-up messages; a malformed signature is logged and skipped, never fatal. */
  private followUps(job: Job, build: () => OutgoingTask[]): OutgoingTask[] {
    try {
      return build();
    } catch (error) {
      this.logger.error(
        { event: 'worker.follow_up_invalid', task_id: job.message.id, err: error },
        'A callback, errback or chain step of this task cannot be sent; skipped',
      );
      return [];
    }
  }

  /** Ends a job whose handling threw (a bug or hostile input): FAILURE stored, slot freed. */
  crashed(job: Job, error: unknown): void {
    if (!isRunning(job)) return;
    this.logger.error(
      { event: 'worker.task_crashed', task_id: job.message.id, err: error },
      'Handling this task failed',
    );
    const doc = this.ignoresResult(job) ? null : this.document(job, 'FAILURE', exceptionDocument(error));
    this.custody.finish(job, doc);
  }

  private async publishFollowUps(job: Job, followUps: OutgoingTask[]): Promise<unknown[]> {
    const children: unknown[] = [];
    await Promise.all(
      followUps.map((outgoing) =>
        this.app.publish(outgoing).then(
          () => {
            children.push([[outgoing.id, null], null]);
          },
          (error: unknown) => {
            this.logger.error(
              { event: 'worker.follow_up_failed', task_id: job.message.id, follow_up: outgoing.task, err: error },
              'Could not publish a callback or chain step',
            );
          },
        ),
      ),
    );
    return children;
  }

  private failed(job: Job, rawError: unknown, ctx: RuntimeTaskContext | null, final = false): void {
    if (!isRunning(job)) return;
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
            new Retry({ countdownSec: this.backoffSec(job), eta: null, exc: error, maxRetries: undefined }),
          );
          return;
        }
      }
    }
    const m = job.message;
    this.logger.warn({ event: 'worker.task_failed', task_id: m.id, task: m.task, err: error }, 'Task failed');
    const errbacks = this.followUps(job, () => errorFollowUps(this.app, m, this.origin));
    const doc = this.ignoresResult(job) ? null : this.document(job, 'FAILURE', exceptionDocument(error));
    if (errbacks.length > 0) {
      void this.publishFollowUps(job, errbacks).then(() => this.custody.finish(job, doc));
      return;
    }
    this.custody.finish(job, doc);
  }

  private backoffSec(job: Job): number {
    const plan = job.plan;
    if (plan.retryBackoff <= 0) return plan.defaultRetryDelaySec;
    const countdown = Math.min(plan.retryBackoffMaxSec, plan.retryBackoff * 2 ** job.message.retries);
    return plan.retryJitter ? Math.random() * countdown : countdown;
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
    const outcome =
      retry.exc !== undefined && retry.exc !== null
        ? exceptionDocument(retry.exc)
        : { result: null, traceback: retry.stack ?? `Retry: ${retry.message}` };
    const doc = this.ignoresResult(job) ? null : this.document(job, 'RETRY', outcome, [[[m.id, null], null]], null);
    this.custody.finish(job, doc);
  }

  /** Async tasks still inside their time-limit bookkeeping. */
  get trackedRuns(): number {
    return this.runs.size;
  }

  /** Stops all time-limit timers (the worker gives up on whatever still runs); idempotent. */
  close(): void {
    for (const run of this.runs) this.settle(run);
  }
}
