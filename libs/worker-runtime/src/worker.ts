import { EventEmitter } from 'node:events';
import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { type DecodeOptions, decodeTaskEnvelope, type ResultDocument } from '@celeriac/protocol';
import { Consumer, type ConsumerSource } from './consumer.js';
import { WorkerError } from './errors.js';
import { EtaScheduler } from './eta-scheduler.js';
import { EventLoopWatchdog } from './event-loop-watchdog.js';
import { Executor } from './executor.js';
import type { Job } from './job.js';
import { type DeadLetterTarget, MessageRejection } from './message-rejection.js';
import { RateLimiter } from './rate-limiter.js';
import { ResultFlusher } from './result-flusher.js';
import { buildTaskPlan, type TaskPlan } from './task-plan.js';
import type { WorkerApp } from './worker-app.js';
import { readWorkerSettings, type WorkerSettings } from './worker-settings.js';

/** The broker calls the worker makes (`RedisBroker` has them all). */
export interface WorkerBroker extends ConsumerSource, DeadLetterTarget {
  start(): Promise<void>;
  close(): Promise<void>;
  ack(tags: readonly string[]): Promise<void>;
  requeue(deliveries: readonly Delivery[]): Promise<unknown>;
  restoreVisibilityTimeout(): Promise<number>;
}

/** The result-backend calls the worker makes (`RedisResultBackend` has them all). */
export interface WorkerBackend {
  start(): Promise<void>;
  close(): Promise<void>;
  store(doc: ResultDocument): Promise<void>;
  storeMany(docs: readonly ResultDocument[]): Promise<void>;
}

/** Options of a worker (see docs/contracts.md). */
export interface WorkerOptions {
  app: WorkerApp;
  queues: string[];
  /** Most tasks running at once. */
  concurrency: number;
  /** Defaults to `worker_prefetch_multiplier` (4). */
  prefetchMultiplier?: number;
  /** Node name, e.g. `celeriac@host`. */
  hostname: string;
  logger: Logger;
  /** Owner of held-task records; defaults to `<hostname>:<pid>`. */
  ownerId?: string;
  /** Larger queue entries are dead-lettered; default 16 MiB. */
  maxMessageBytes?: number;
  /** Default drain deadline of `warmShutdown()`; default 30 s. */
  drainTimeoutMs?: number;
  /** After the drain, flushing and closing connections may take at most this long; default 10 s. */
  forceTimeoutMs?: number;
  /** Kill the process when a synchronous task blocks the event loop past its hard limit (programs only). */
  watchdog?: boolean;
  /** Use this broker instead of building one from `broker_url` (the caller starts and closes it). */
  broker?: WorkerBroker;
  /** Use this backend instead of building one from `result_backend` (the caller starts and closes it). */
  backend?: WorkerBackend | null;
}

/** Life cycle of a worker. */
export type WorkerState = 'created' | 'starting' | 'running' | 'draining' | 'stopped';

/** Counters for tests, benchmarks and status. */
export interface WorkerStats {
  state: WorkerState;
  held: number;
  running: number;
  ready: number;
  eta: number;
  rateLimited: number;
  executed: number;
  rejected: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_RESTORE_INTERVAL_MS = 60_000;
const MIN_RESTORE_INTERVAL_MS = 1_000;
/** Longest wait for the idle blocking pop after a hand-back (its timeout is 1 s). */
const IDLE_SETTLE_MS = 1_500;

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A Celery-compatible worker: fetches from its queues within the prefetch limit, runs up to
 * `concurrency` tasks at once, honours eta, expires and rate limits, stores results and acks in
 * batches, and shuts down warm (hand back what has not started, finish the rest within the drain
 * deadline) or cold (hand back everything not finished). Emits `state` and `ready`.
 */
export class Worker extends EventEmitter {
  private stateValue: WorkerState = 'created';
  private readonly options: WorkerOptions;
  private readonly concurrency: number;
  private readonly ownerId: string;
  private settings!: WorkerSettings;
  private broker!: WorkerBroker;
  private backend: WorkerBackend | null = null;
  private ownsConnections = true;
  private flusher!: ResultFlusher;
  private executor!: Executor;
  private rejection!: MessageRejection;
  private consumer!: Consumer;
  private readonly plans = new Map<string, TaskPlan>();
  private readonly eta: EtaScheduler<Job>;
  private readonly limiter: RateLimiter<Job>;
  private watchdog: EventLoopWatchdog | null = null;
  private prefetchLimit = 0;
  private decodeOptions: DecodeOptions = { accept: ['json'] };
  private ready: Job[] = [];
  private readyHead = 0;
  private readonly active = new Set<Job>();
  private readonly handingBack = new Set<Promise<void>>();
  private held = 0;
  private running = 0;
  private pumping = false;
  private batching = false;
  private executed = 0;
  private rejected = 0;
  private restoreTimer: NodeJS.Timeout | null = null;
  private restoring: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private shutdown: Promise<void> | null = null;
  private cold = false;
  private wakeDrain: (() => void) | null = null;

  constructor(options: WorkerOptions) {
    super();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new WorkerError('WORKER_BAD_OPTIONS', `concurrency must be an integer ≥ 1, got ${options.concurrency}.`);
    }
    if (options.queues.length === 0) {
      throw new WorkerError('WORKER_BAD_OPTIONS', 'A worker needs at least one queue (-Q).');
    }
    this.options = options;
    this.concurrency = options.concurrency;
    this.ownerId = options.ownerId ?? `${options.hostname}:${process.pid}`;
    this.eta = new EtaScheduler<Job>((job) => this.due(job));
    this.limiter = new RateLimiter<Job>((job) => {
      this.ready.push(job);
      this.pump();
    });
  }

  get state(): WorkerState {
    return this.stateValue;
  }

  private setState(state: WorkerState): void {
    this.stateValue = state;
    this.emit('state', state);
  }

  /** Counters of what the worker holds and did. */
  stats(): WorkerStats {
    return {
      state: this.stateValue,
      held: this.held,
      running: this.running,
      ready: this.ready.length - this.readyHead,
      eta: this.eta.size,
      rateLimited: this.limiter.size,
      executed: this.executed,
      rejected: this.rejected,
    };
  }

  /** Connects, restores timed-out unacked messages and starts consuming; resolves when ready. */
  async start(): Promise<void> {
    if (this.stateValue !== 'created') {
      throw new WorkerError('WORKER_STATE', `start() called in state ${this.stateValue}; a worker starts once.`);
    }
    this.setState('starting');
    const o = this.options;
    try {
      this.settings = readWorkerSettings(o.app.conf.settings);
      this.planAllTasks();
      this.decodeOptions = { accept: this.settings.accept, maxBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES };
      const multiplier = o.prefetchMultiplier ?? this.settings.prefetchMultiplier;
      this.prefetchLimit = this.concurrency * Math.max(1, Math.floor(multiplier));
      if (o.broker) {
        this.ownsConnections = false;
        this.broker = o.broker;
        this.backend = o.backend ?? null;
      } else {
        await this.connect();
      }
    } catch (error) {
      this.setState('stopped');
      throw error;
    }
    const backend = this.backend;
    this.flusher = new ResultFlusher(
      {
        storeMany: backend ? (docs) => backend.storeMany(docs) : async () => undefined,
        ack: (tags) => this.broker.ack(tags),
      },
      o.logger,
    );
    this.rejection = new MessageRejection(this.broker, this.flusher, o.logger);
    this.executor = new Executor({
      app: o.app,
      flusher: this.flusher,
      store: backend ? (doc) => backend.store(doc) : async () => undefined,
      logger: o.logger,
      hostname: o.hostname,
      resultExtended: this.settings.resultExtended,
      hooks: {
        acked: () => {
          this.held--;
        },
        finished: (job) => this.finished(job),
        hardLimit: (limitMs) => {
          if (!o.watchdog) return;
          this.watchdog ??= new EventLoopWatchdog(o.hostname);
          this.watchdog.watch(limitMs);
        },
      },
    });
    this.consumer = new Consumer({
      source: this.broker,
      queues: o.queues,
      prefetchLimit: this.prefetchLimit,
      freeSlots: () => this.prefetchLimit - this.held,
      onDeliveries: (deliveries) => this.onDeliveries(deliveries),
      logger: o.logger,
    });
    // The first restore runs beside start-up (as kombu's does at consumer start) instead of
    // delaying readiness by its round trips; the next ones follow, each timed from the end of the last.
    void this.restore();
    this.setState('running');
    this.consumer.start();
    this.emit('ready');
  }

  /** Resolves every registered task's options now, so that bad ones stop start-up, all reported together. */
  private planAllTasks(): void {
    const problems: string[] = [];
    for (const task of this.options.app.tasks.values()) {
      try {
        this.plans.set(task.name, buildTaskPlan(this.options.app, task, this.settings));
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    if (problems.length > 0) {
      throw new WorkerError('WORKER_BAD_SETTING', `Invalid task options:\n- ${problems.join('\n- ')}`);
    }
  }

  private async connect(): Promise<void> {
    const { RedisBroker } = await import('@celeriac/broker');
    const o = this.options;
    const s = this.settings;
    const broker = new RedisBroker({
      url: s.brokerUrl,
      logger: o.logger,
      visibilityTimeoutMs: s.visibilityTimeoutMs,
      ownerId: this.ownerId,
    });
    this.broker = broker;
    if (s.resultBackendUrl !== null) {
      const { RedisResultBackend } = await import('@celeriac/result-backend');
      this.backend = new RedisResultBackend({
        url: s.resultBackendUrl,
        logger: o.logger,
        resultExpiresSec: s.resultExpiresSec,
      });
    }
    try {
      await Promise.all([broker.start(), this.backend?.start()]);
    } catch (error) {
      await Promise.allSettled([broker.close(), this.backend?.close()]);
      throw error;
    }
  }

  private restore(): Promise<void> {
    this.restoring ??= this.restoreOnce().finally(() => {
      this.restoring = null;
      this.scheduleRestore();
    });
    return this.restoring;
  }

  /**
   * The next restore comes 1.5 visibility timeouts (1 s to 60 s) after the end of the last one.
   * Not less: a message this worker just restored and took again would otherwise look timed out
   * at the very moment a task as long as the visibility timeout finishes, and run a third time.
   */
  private scheduleRestore(): void {
    if (this.stateValue !== 'running' && this.stateValue !== 'starting') return;
    const intervalMs = Math.min(
      MAX_RESTORE_INTERVAL_MS,
      Math.max(MIN_RESTORE_INTERVAL_MS, this.settings.visibilityTimeoutMs * 1.5),
    );
    if (this.restoreTimer !== null) clearTimeout(this.restoreTimer);
    this.restoreTimer = setTimeout(() => {
      this.restoreTimer = null;
      void this.restore();
    }, intervalMs);
    this.restoreTimer.unref();
  }

  private async restoreOnce(): Promise<void> {
    try {
      const n = await this.broker.restoreVisibilityTimeout();
      if (n > 0)
        this.options.logger.info(
          { event: 'worker.restored', count: n },
          'Restored unacked messages past the visibility timeout',
        );
    } catch (error) {
      this.options.logger.warn(
        { event: 'worker.restore_failed', err: error },
        'Visibility-timeout restore failed; will retry',
      );
    }
  }

  private onDeliveries(deliveries: Delivery[]): void {
    if (this.stateValue !== 'running') {
      void this.handBack(deliveries);
      return;
    }
    this.batching = true;
    for (let i = 0; i < deliveries.length; i++) {
      const delivery = deliveries[i] as Delivery;
      try {
        this.accept(delivery);
      } catch (error) {
        // A message must never stop the worker, whatever it holds.
        this.rejected++;
        this.rejection.reject(delivery, {
          code: 'unexpected',
          reason: `could not handle the message: ${String(error)}`,
        });
      }
    }
    this.batching = false;
    this.pump(false);
    // Results of the tasks this batch ran synchronously go out now, ahead of the next fetch.
    this.flusher.sendQueued();
    this.consumer.poke();
  }

  private planFor(name: string): TaskPlan | null | Error {
    const cached = this.plans.get(name);
    if (cached !== undefined) return cached;
    const task = this.options.app.tasks.get(name);
    if (task === undefined) return null;
    try {
      const plan = buildTaskPlan(this.options.app, task, this.settings);
      this.plans.set(name, plan);
      return plan;
    } catch (error) {
      return error as Error;
    }
  }

  private accept(delivery: Delivery): void {
    const decoded = decodeTaskEnvelope(delivery.raw, this.decodeOptions);
    if (!decoded.ok) {
      this.rejected++;
      this.rejection.reject(delivery, decoded);
      return;
    }
    const m = decoded.message;
    const plan = this.planFor(m.task);
    if (plan === null || plan instanceof Error) {
      this.rejected++;
      this.rejection.reject(
        delivery,
        plan === null
          ? { code: 'not_registered', reason: `task ${m.task} is not registered`, taskId: m.id, taskName: m.task }
          : { code: 'bad_task_options', reason: plan.message, taskId: m.id, taskName: m.task },
      );
      return;
    }
    const job: Job = { delivery, message: m, plan, state: 'held', acked: false, abandoned: false };
    this.held++;
    if (m.eta !== null) {
      const dueMs = m.eta.getTime();
      if (dueMs > Date.now() && !(m.expires !== null && m.expires.getTime() <= Date.now())) {
        this.eta.schedule(dueMs, job);
        return;
      }
    }
    this.due(job);
  }

  private due(job: Job): void {
    const rate = job.plan.rateLimitPerSec;
    if (rate !== null && !this.limiter.admit(job.plan.name, rate, job)) return;
    this.ready.push(job);
    if (!this.batching) this.pump();
  }

  private pump(poke = true): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.running < this.concurrency && this.readyHead < this.ready.length) {
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
    if (poke) this.consumer?.poke();
  }

  private startJob(job: Job): void {
    if (this.stateValue !== 'running' && this.stateValue !== 'draining') return;
    this.running++;
    this.active.add(job);
    const expires = job.message.expires;
    try {
      if (expires !== null && expires.getTime() <= Date.now()) this.executor.revokeExpired(job);
      else this.executor.run(job);
    } catch (error) {
      this.executor.crashed(job, error);
    }
  }

  private finished(job: Job): void {
    this.running--;
    this.executed++;
    this.active.delete(job);
    if (this.running === 0 && this.drained !== null) this.drained();
    if (!this.pumping) this.pump();
  }

  /** Hands deliveries back to their queues (redelivered) at once; `stop()` waits for every hand-back. */
  private handBack(deliveries: Delivery[]): Promise<void> {
    if (deliveries.length === 0) return Promise.resolve();
    const work = this.broker.requeue(deliveries).then(
      () => undefined,
      (error: unknown) => {
        this.options.logger.error(
          { event: 'worker.requeue_failed', count: deliveries.length, err: error },
          'Could not hand messages back; they return after the visibility timeout',
        );
      },
    );
    this.handingBack.add(work);
    void work.finally(() => this.handingBack.delete(work));
    return work;
  }

  /** Takes every held-but-not-started job out of memory. */
  private takeWaiting(): Job[] {
    const jobs = this.ready.slice(this.readyHead);
    this.ready = [];
    this.readyHead = 0;
    jobs.push(...this.eta.drain(), ...this.limiter.drain());
    for (const job of jobs) {
      job.state = 'done';
      job.abandoned = true;
      this.held--;
    }
    return jobs;
  }

  /**
   * Warm shutdown: stop fetching, hand back every held-but-not-started message at once, let running
   * tasks finish until `drainTimeoutMs`, then hand back what is still unfinished and not acked,
   * flush results and acks, and close. Idempotent; a later `coldShutdown()` cuts the drain short.
   */
  warmShutdown(drainTimeoutMs = this.options.drainTimeoutMs ?? 30_000): Promise<void> {
    this.shutdown ??= this.stop(drainTimeoutMs);
    return this.shutdown;
  }

  /** Cold shutdown: hand back everything not finished (acks_late tasks in flight too), flush, close. */
  coldShutdown(): Promise<void> {
    this.cold = true;
    this.wakeDrain?.();
    this.shutdown ??= this.stop(0);
    return this.shutdown;
  }

  /** Same as `warmShutdown()` with the default drain deadline. */
  close(): Promise<void> {
    return this.warmShutdown();
  }

  private async stop(drainTimeoutMs: number): Promise<void> {
    const log = this.options.logger;
    if (this.stateValue === 'created' || this.stateValue === 'stopped') {
      this.setState('stopped');
      return;
    }
    while ((this.stateValue as WorkerState) === 'starting') await new Promise((r) => setTimeout(r, 10));
    if ((this.stateValue as WorkerState) === 'stopped') return;
    this.setState('draining');
    log.info({ event: 'worker.draining', running: this.running, held: this.held, cold: this.cold }, 'Shutting down');
    if (this.restoreTimer !== null) clearTimeout(this.restoreTimer);
    this.restoreTimer = null;
    const stopFetching = this.consumer.stop();
    const waiting = this.takeWaiting();
    const handBack = this.handBack(waiting.map((j) => j.delivery));
    if (!this.cold && drainTimeoutMs > 0 && this.running > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, drainTimeoutMs);
        function finish(): void {
          clearTimeout(timer);
          resolve();
        }
        this.drained = () => {
          if (this.running === 0) finish();
        };
        this.wakeDrain = finish;
      });
      this.drained = null;
      this.wakeDrain = null;
    }
    const unfinished = [...this.active];
    const lost: string[] = [];
    const giveBack: Delivery[] = [];
    for (const job of unfinished) {
      if (job.state === 'done') continue;
      job.abandoned = true;
      if (!job.acked) {
        giveBack.push(job.delivery);
        this.held--;
      } else {
        lost.push(job.message.id);
      }
    }
    if (lost.length > 0) {
      log.warn(
        { event: 'worker.abandoned', task_ids: lost },
        'Tasks still running at shutdown were acked at start (no acks_late) and will not run again',
      );
    }
    const forceMs = this.options.forceTimeoutMs ?? 10_000;
    const closing = (async () => {
      await stopFetching;
      await this.restoring;
      await Promise.all([handBack, this.handBack(giveBack)]);
      // Our own pending blocking pop may take back what we just pushed: wait for it and hand that
      // back too (once the pop returns no other is issued), before the broker closes.
      if (waiting.length + giveBack.length > 0) await this.consumer.idleSettled(IDLE_SETTLE_MS);
      while (this.handingBack.size > 0) await Promise.all([...this.handingBack]);
      this.executor.close();
      await this.rejection.settle();
      await this.flusher.close();
      this.eta.close();
      this.limiter.close();
      await this.watchdog?.close();
      if (this.ownsConnections) await Promise.allSettled([this.broker.close(), this.backend?.close()]);
    })();
    if ((await withDeadline(closing, forceMs)) === 'timeout') {
      log.error(
        { event: 'worker.force_stop', timeout_ms: forceMs },
        'Shutdown did not finish in time; stopping anyway',
      );
      this.eta.close();
      this.limiter.close();
      void this.watchdog?.close();
      if (this.ownsConnections) void Promise.allSettled([this.broker.close(), this.backend?.close()]);
    }
    log.info(
      { event: 'worker.stopped', handed_back: waiting.length + giveBack.length, executed: this.executed },
      'Worker stopped',
    );
    this.setState('stopped');
  }
}
