import { EventEmitter } from 'node:events';
import type { Delivery } from '@celeriac/broker';
import { isAmqpUrl } from '@celeriac/broker-amqp';
import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import { connectWithRetry } from './broker-connection-retry.js';
import {
  type ConnectionReportingBroker,
  watchAmqpBrokerConnection,
  watchBrokerConnection,
} from './broker-connection-watch.js';
import { Consumer, declareConsumedQueues, type QueueDeclarer } from './consumer.js';
import { createWorkerPlane, startWorkerPlane } from './controlled-worker.js';
import { DeliveryUpkeep, type UpkeepBroker } from './delivery-upkeep.js';
import { Dispatcher, planAllTasks } from './dispatcher.js';
import { duplicateCheck } from './duplicate-check.js';
import { WorkerError } from './errors.js';
import { type DeferTarget, EtaDeferral } from './eta-deferral.js';
import { EventLoopWatchdog } from './event-loop-watchdog.js';
import { Executor } from './executor.js';
import { fleetLimiterFactory } from './fleet-limiter-setup.js';
import { HandBack } from './hand-back.js';
import { JobCustody } from './job-custody.js';
import { MessageRejection } from './message-rejection.js';
import { PoolSize } from './pool-size.js';
import { ResultFlusher } from './result-flusher.js';
import { StartMarks, type StartMarkTarget } from './start-marks.js';
import { VisibilityRestore } from './visibility-restore.js';
import type { WorkerBackend, WorkerBroker, WorkerOptions } from './worker-options.js';
import type { WorkerPlane } from './worker-plane.js';
import { checkWorkerSettings, readWorkerSettings, type WorkerSettings } from './worker-settings.js';
import {
  canTransition,
  type WorkerEvents,
  type WorkerState,
  type WorkerStateChange,
  type WorkerStateReason,
} from './worker-state.js';

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
  /** Messages moved to the broker's delayed set (eta beyond the horizon). */
  deferred: number;
  /** Held jobs waiting for a fleet-wide limit. */
  fleetWaiting: number;
}

/** Why a worker stopped itself to be replaced. */
export interface WorkerRecycle {
  reason: 'max_tasks_per_child' | 'max_memory_per_child';
  /** Tasks it ran. */
  executed: number;
  /** The setting's value (tasks, or KiB). */
  limit: number;
  /** Its RSS in KiB, for `max_memory_per_child`. */
  rssKiB?: number;
}

/** Broker calls beyond `WorkerBroker` that the delivery guarantees use (`RedisBroker` has them). */
type GuaranteeBroker = WorkerBroker & Partial<DeferTarget & UpkeepBroker & StartMarkTarget>;

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Longest wait for the idle blocking pop after a hand-back (its timeout is 1 s). */
const IDLE_SETTLE_MS = 1_500;

/** What `start()` builds: the parts that exist only while the worker runs. */
interface Running {
  settings: WorkerSettings;
  broker: WorkerBroker;
  backend: WorkerBackend | null;
  ownsConnections: boolean;
  flusher: ResultFlusher;
  custody: JobCustody;
  executor: Executor;
  rejection: MessageRejection;
  dispatcher: Dispatcher;
  consumer: Consumer;
  restore: VisibilityRestore;
  handBack: HandBack;
  /** Null when the broker has no delayed set (a broker passed in without `defer`). */
  deferral: EtaDeferral | null;
  upkeep: DeliveryUpkeep | null;
  /** Tasks at once and the prefetch limit (pool_grow / pool_shrink resize it). */
  pool: PoolSize;
  /** The pidbox, events and revokes (null with `controlPlane: false`). */
  plane: WorkerPlane | null;
}

/** Starts the fleet limiter (when there is one); on failure closes it and what start-up opened. */
async function startFleetLimiter(parts: Running, ownsConnections: boolean): Promise<void> {
  const fleet = parts.dispatcher.fleet;
  if (fleet === null) return;
  try {
    await fleet.start();
  } catch (error) {
    await fleet.close();
    if (ownsConnections) await Promise.allSettled([parts.broker.close(), parts.backend?.close()]);
    throw error;
  }
}

/** `on`, `once` and `off` take only the events a worker emits, with their listener types. */
export interface Worker {
  on<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  once<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  off<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  emit<K extends keyof WorkerEvents>(event: K, ...args: Parameters<WorkerEvents[K]>): boolean;
}

/**
 * A Celery-compatible worker: fetches from its queues within the prefetch limit, runs up to
 * `concurrency` tasks at once, honours eta, expires and rate limits, stores results and acks in
 * batches, and shuts down warm (hand back what has not started, finish the rest within the drain
 * deadline) or cold (hand back everything not finished). Emits `state` and `ready` (`WorkerEvents`);
 * its life cycle is `WorkerState`.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: typed event overloads, as BullMQ's Worker does.
export class Worker extends EventEmitter {
  private stateValue: WorkerState = 'created';
  private readonly options: WorkerOptions;
  /** The queues consumed: add_consumer / cancel_consumer change this list in place. */
  private readonly queues: string[];
  private readonly ownerId: string;
  private parts: Running | null = null;
  private watchdog: EventLoopWatchdog | null = null;
  private starting: Promise<void> | null = null;
  private shutdown: Promise<void> | null = null;
  private cold = false;
  private failure: { error: unknown } | null = null;
  /** Ends the drain wait early (all running jobs finished, or a cold shutdown). */
  private endDrain: (() => void) | null = null;
  private recycle: WorkerRecycle | null = null;

  constructor(options: WorkerOptions) {
    super();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new WorkerError('WORKER_BAD_OPTIONS', `concurrency must be an integer ≥ 1, got ${options.concurrency}.`);
    }
    if (options.queues.length === 0) {
      throw new WorkerError('WORKER_BAD_OPTIONS', 'A worker needs at least one queue (-Q).');
    }
    this.options = options;
    this.queues = [...options.queues];
    this.ownerId = options.ownerId ?? `${options.hostname}:${process.pid}`;
  }

  /** Where the worker is in its life cycle (see `WorkerState`). */
  get state(): WorkerState {
    return this.stateValue;
  }

  private setState(to: WorkerState, reason?: WorkerStateReason, error?: unknown): void {
    const from = this.stateValue;
    if (!canTransition(from, to)) {
      throw new WorkerError('WORKER_STATE', `A worker cannot go from ${from} to ${to} (a bug: report it).`);
    }
    this.stateValue = to;
    const log = this.options.logger;
    const fields = { event: 'worker.state', from, to, reason, err: error } as const;
    if (to === 'failed') log.error(fields, `Worker ${from} → ${to}`);
    else log.info(fields, `Worker ${from} → ${to}`);
    const change: WorkerStateChange = { from, to };
    if (reason !== undefined) change.reason = reason;
    if (error !== undefined) change.error = error;
    this.emit('state', to, change);
  }

  /**
   * Why the worker stopped itself to be replaced (`worker_max_tasks_per_child`,
   * `worker_max_memory_per_child`), or null. The worker program exits with
   * `WORKER_RECYCLE_EXIT_CODE` for it (or re-executes itself when it runs alone).
   */
  get recycled(): WorkerRecycle | null {
    return this.recycle;
  }

  /** Counters of what the worker holds and did. */
  stats(): WorkerStats {
    const p = this.parts;
    return {
      state: this.stateValue,
      held: p?.custody.held ?? 0,
      running: p?.custody.running ?? 0,
      ready: p?.dispatcher.readyCount ?? 0,
      eta: p?.dispatcher.etaCount ?? 0,
      rateLimited: p?.dispatcher.rateLimitedCount ?? 0,
      executed: p?.custody.finished ?? 0,
      rejected: p?.dispatcher.rejected ?? 0,
      deferred: p?.deferral?.deferred ?? 0,
      fleetWaiting: p?.dispatcher.fleetWaitingCount ?? 0,
    };
  }

  /**
   * Connects, restores timed-out unacked messages and starts consuming; resolves when ready.
   * A worker starts once: in any state but `created` this rejects with `WORKER_STATE`. When
   * start-up fails, the worker is `failed` and this rejects with the cause.
   */
  start(): Promise<void> {
    if (this.stateValue !== 'created') {
      return Promise.reject(
        new WorkerError('WORKER_STATE', `start() called in state ${this.stateValue}; a worker starts once.`),
      );
    }
    this.setState('starting');
    this.starting = this.startUp();
    return this.starting;
  }

  private async startUp(): Promise<void> {
    const o = this.options;
    let parts: Running;
    try {
      const settings = readWorkerSettings(o.app.conf.settings);
      const plans = planAllTasks(o.app, settings);
      let resizable: WorkerBroker | undefined;
      const pool = new PoolSize(o.concurrency, o.prefetchMultiplier ?? settings.prefetchMultiplier, (limit) =>
        resizable?.setPrefetchCount?.(limit),
      );
      const { reportCelerySettings } = await import('@celeriac/client');
      checkWorkerSettings(o.app.conf, o.logger, reportCelerySettings);
      const connections = o.broker
        ? { broker: o.broker, backend: o.backend ?? null, ownsConnections: false }
        : await connectWithRetry(
            settings.brokerConnectionRetry,
            settings.brokerUrl,
            o.logger,
            () => this.connect(settings, pool),
            () => this.shutdown !== null,
          );
      // On Redis a connection of its own watches the broker; an AMQP broker reconnects by itself and reports `failed`.
      if (connections.ownsConnections && !isAmqpUrl(settings.brokerUrl)) {
        await watchBrokerConnection(this, settings.brokerConnectionRetry, settings.brokerUrl, o.logger);
      } else if (connections.ownsConnections) {
        const broker = connections.broker as unknown as ConnectionReportingBroker;
        watchAmqpBrokerConnection(this, broker, settings.brokerConnectionRetry, settings.brokerUrl, o.logger);
      }
      await declareConsumedQueues(connections.broker as QueueDeclarer, this.queues, o.logger);
      resizable = connections.broker;
      parts = this.build(settings, plans, connections, pool);
      await startFleetLimiter(parts, connections.ownsConnections);
      const shutdown = () => void this.warmShutdown();
      await startWorkerPlane(parts, { ...o, brokerUrl: settings.brokerUrl, queues: this.queues, ...parts, shutdown });
    } catch (error) {
      this.setState('failed', 'start_failed', error);
      throw error;
    }
    this.parts = parts;
    // The first restore runs beside start-up (as kombu's does at consumer start) instead of
    // delaying readiness by its round trips; the next ones follow, each timed from the end of the last.
    parts.restore.start();
    parts.upkeep?.start();
    this.setState('running');
    parts.consumer.start();
    this.emit('ready');
  }

  private build(
    settings: WorkerSettings,
    plans: ReturnType<typeof planAllTasks>,
    c: { broker: WorkerBroker; backend: WorkerBackend | null; ownsConnections: boolean },
    pool: PoolSize,
  ): Running {
    const o = this.options;
    const { broker, backend } = c;
    const g = broker as GuaranteeBroker;
    const flusher = new ResultFlusher(
      {
        storeMany: backend ? (docs) => backend.storeMany(docs) : async () => undefined,
        ack: (tags) => broker.ack(tags),
      },
      o.logger,
    );
    const custody = new JobCustody(flusher, () => this.jobFinished());
    // On RabbitMQ the pidbox and events speak AMQP; revokes and fleet limits need a Redis: the result backend's.
    const amqp = isAmqpUrl(settings.brokerUrl);
    const fleetRedisUrl = amqp ? settings.resultBackendUrl : settings.brokerUrl;
    const fleetLimits = o.fleetLimits !== false && fleetRedisUrl !== null;
    if (amqp && o.fleetLimits !== false && fleetRedisUrl === null) {
      o.logger.warn(
        { event: 'worker.fleet_limits_unavailable', broker: 'amqp', result_backend: null },
        'The broker is RabbitMQ and there is no Redis result backend: fleet limits (fleet_* annotations, ' +
          'celeriac_fleet_limits) are not applied; set result_backend to a redis:// URL to have them',
      );
    }
    const plane = createWorkerPlane({
      ...o,
      brokerUrl: settings.brokerUrl,
      resultBackendUrl: settings.resultBackendUrl,
      settings: o.app.conf.settings,
    });
    const rejection = new MessageRejection(broker, flusher, o.logger, plane?.taskEvents);
    const executor = new Executor({
      ...(plane ? { revoked: plane.revoked, events: plane.taskEvents } : {}),
      app: o.app,
      custody,
      flusher,
      store: backend ? (doc) => backend.store(doc) : async () => undefined,
      canvasBackend: backend,
      rejection,
      logger: o.logger,
      hostname: o.hostname,
      resultExtended: settings.resultExtended,
      resultSerializer: settings.resultSerializer,
      onHardLimit: (limitMs) => {
        if (!o.watchdog) return;
        this.watchdog ??= new EventLoopWatchdog(o.hostname);
        this.watchdog.watch(limitMs);
      },
    });
    const deferral =
      typeof g.defer === 'function' ? new EtaDeferral(g as DeferTarget, settings.etaHorizonMs, o.logger) : null;
    // Messages waiting for their eta do not take prefetch slots (Celery raises its prefetch count for each).
    let dispatcher: Dispatcher | undefined;
    const consumer = new Consumer({
      source: broker,
      queues: this.queues,
      prefetchLimit: () => pool.prefetchLimit,
      freeSlots: () =>
        pool.prefetchLimit - custody.held + (dispatcher?.etaCount ?? 0) + (dispatcher?.fleetParkedCount ?? 0),
      onDeliveries: (deliveries) => this.onDeliveries(deliveries),
      logger: o.logger,
    });
    dispatcher = new Dispatcher(
      {
        app: o.app,
        settings,
        decodeOptions: { accept: settings.accept, maxBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES },
        pool,
        custody,
        executor,
        rejection,
        flusher,
        consumer,
        logger: o.logger,
        deferral,
        marks: typeof g.markStarted === 'function' ? new StartMarks(g as StartMarkTarget, o.logger) : null,
        fleetLimiter: fleetLimiterFactory({
          enabled: fleetLimits,
          brokerUrl: fleetRedisUrl ?? settings.brokerUrl,
          ownerId: this.ownerId,
          logger: o.logger,
          settings: o.app.conf.settings,
          plans,
          maxHeld: () => pool.prefetchLimit,
        }),
        duplicates: duplicateCheck(backend, flusher, o.logger),
      },
      plans,
    );
    const restore = new VisibilityRestore(
      () => broker.restoreVisibilityTimeout(),
      settings.visibilityTimeoutMs,
      o.logger,
    );
    const handBack = new HandBack(broker, o.logger);
    const upkeep =
      typeof g.promoteDue === 'function' && typeof g.takeRedeliveryLimited === 'function'
        ? new DeliveryUpkeep(g as UpkeepBroker, flusher, settings.delayedPollMs, settings.redeliveryLimit, o.logger)
        : null;
    if (deferral !== null && upkeep !== null) deferral.onDeferred((dueMs) => upkeep.dueAt(dueMs));
    return {
      settings,
      ...c,
      flusher,
      custody,
      executor,
      rejection,
      dispatcher,
      consumer,
      restore,
      handBack,
      deferral,
      upkeep,
      pool,
      plane,
    };
  }

  private async connect(
    s: WorkerSettings,
    pool: PoolSize,
  ): Promise<{ broker: WorkerBroker; backend: WorkerBackend | null; ownsConnections: true }> {
    const { brokerOptionsFromCelery } = await import('@celeriac/broker');
    const { brokerForUrl } = await import('@celeriac/broker-amqp');
    const o = this.options;
    const broker = brokerForUrl({
      url: s.brokerUrl,
      logger: o.logger,
      settings: o.app.conf.settings,
      prefetchCount: pool.prefetchLimit,
      redis: {
        ...brokerOptionsFromCelery(o.app.conf.settings),
        visibilityTimeoutMs: s.visibilityTimeoutMs,
        ownerId: this.ownerId,
        redeliveryLimit: s.redeliveryLimit,
        deadLetterMaxEntries: s.deadLetterMaxEntries,
        deadLetterMaxRawBytes: s.deadLetterMaxRawBytes,
        ...(s.revokedKey !== null ? { revokedKey: s.revokedKey } : {}),
      },
    });
    let backend: WorkerBackend | null = null;
    if (s.resultBackendUrl !== null) {
      const { RedisResultBackend } = await import('@celeriac/result-backend');
      backend = new RedisResultBackend({
        url: s.resultBackendUrl,
        logger: o.logger,
        resultExpiresSec: s.resultExpiresSec,
        serializer: s.resultSerializer,
        retry: s.resultBackendRetry,
      });
    }
    try {
      await Promise.all([broker.start(), backend?.start()]);
    } catch (error) {
      await Promise.allSettled([broker.close(), backend?.close()]);
      throw error;
    }
    return { broker, backend, ownsConnections: true };
  }

  private onDeliveries(deliveries: Delivery[]): void {
    const p = this.parts as Running;
    if (this.stateValue !== 'running' || this.recycle !== null) void p.handBack.give(deliveries);
    else p.dispatcher.take(deliveries);
  }

  /** A running job finished: its slot is free (unless the worker is to be recycled now). */
  private jobFinished(): void {
    const p = this.parts as Running;
    if (this.endDrain !== null && p.custody.running === 0) this.endDrain();
    if (this.recycle === null && this.stateValue === 'running') this.checkRecycle(p);
    if (this.recycle === null) p.dispatcher.pump();
  }

  /** After a task: past `worker_max_tasks_per_child` tasks or `worker_max_memory_per_child` KiB, stop warm. */
  private checkRecycle(p: Running): void {
    const { maxTasksPerChild, maxMemoryPerChildKiB } = p.settings;
    const executed = p.custody.finished;
    let recycle: WorkerRecycle | null = null;
    if (maxTasksPerChild !== null && executed >= maxTasksPerChild) {
      recycle = { reason: 'max_tasks_per_child', executed, limit: maxTasksPerChild };
    } else if (maxMemoryPerChildKiB !== null) {
      const rssKiB = Math.round(process.memoryUsage.rss() / 1024);
      if (rssKiB > maxMemoryPerChildKiB) {
        recycle = { reason: 'max_memory_per_child', executed, limit: maxMemoryPerChildKiB, rssKiB };
      }
    }
    if (recycle === null) return;
    this.recycle = recycle;
    p.dispatcher.stopStarting();
    this.options.logger.info(
      {
        event: 'worker.recycle',
        reason: recycle.reason,
        executed,
        limit: recycle.limit,
        ...(recycle.rssKiB !== undefined ? { rss_kib: recycle.rssKiB } : {}),
      },
      `Recycling: ${recycle.reason === 'max_tasks_per_child' ? `${executed} tasks run` : `RSS ${recycle.rssKiB} KiB`} (limit ${recycle.limit}); warm shutdown, to be replaced`,
    );
    // Outside the custody callback this runs in; no job starts meanwhile (pump and take are held).
    setImmediate(() => void this.warmShutdown());
  }

  /**
   * Warm shutdown: stop fetching, hand back every held-but-not-started message at once, let running
   * tasks finish until `drainTimeoutMs`, then hand back what is still unfinished and not acked,
   * flush results and acks, and close. Idempotent; a later `coldShutdown()` cuts the drain short.
   * Called while starting, it waits for start-up to end first.
   */
  warmShutdown(drainTimeoutMs = this.options.drainTimeoutMs ?? 30_000): Promise<void> {
    this.shutdown ??= this.stop(drainTimeoutMs);
    return this.shutdown;
  }

  /** Cold shutdown: hand back everything not finished (acks_late tasks in flight too), flush, close. */
  coldShutdown(): Promise<void> {
    this.cold = true;
    this.endDrain?.();
    this.shutdown ??= this.stop(0);
    return this.shutdown;
  }

  /** Same as `warmShutdown()` with the default drain deadline. */
  close(): Promise<void> {
    return this.warmShutdown();
  }

  /**
   * A fatal error while running (e.g. an uncaught exception in task code): cold shutdown, then
   * state `failed` with `error` logged. Before start the worker goes straight to `failed`; once
   * it has stopped or failed, this changes nothing.
   */
  fail(error: unknown): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'failed') return this.shutdown ?? Promise.resolve();
    this.failure ??= { error };
    return this.coldShutdown();
  }

  private async stop(drainTimeoutMs: number): Promise<void> {
    if (this.stateValue === 'created') {
      if (this.failure !== null) this.setState('failed', 'fatal_error', this.failure.error);
      else this.setState('stopped', 'closed_before_start');
      return;
    }
    if (this.stateValue === 'starting') await this.starting?.catch(() => undefined);
    const p = this.parts;
    if (this.stateValue !== 'running' || p === null) return;
    const log = this.options.logger;
    this.setState(
      'draining',
      this.failure !== null ? 'fatal_error' : this.cold ? 'cold_shutdown' : 'warm_shutdown',
      this.failure?.error,
    );
    const { custody } = p;
    log.info(
      { event: 'worker.draining', running: custody.running, held: custody.held, cold: this.cold },
      'Shutting down',
    );
    const restoreStopped = Promise.all([p.restore.stop(), p.upkeep?.stop()]);
    const stopFetching = p.consumer.stop();
    const waiting = p.dispatcher.takeWaiting();
    const handBack = p.handBack.give(waiting.map((j) => j.delivery));
    if (!this.cold && drainTimeoutMs > 0 && custody.running > 0) {
      const drained = new Promise<void>((resolve) => {
        this.endDrain = resolve;
      });
      await raceTimeout(drained, drainTimeoutMs);
      this.endDrain = null;
    }
    const { handedBack, abandoned } = custody.releaseRunning();
    if (abandoned.length > 0) {
      log.warn(
        { event: 'worker.abandoned', task_ids: abandoned.map((j) => j.message.id) },
        'Tasks still running at shutdown were acked at start (no acks_late) and will not run again',
      );
    }
    const forceMs = this.options.forceTimeoutMs ?? 10_000;
    const closing = (async () => {
      await stopFetching;
      await restoreStopped;
      // Messages on their way to the delayed set that did not get there go back to their queues.
      const undeferred = (await p.deferral?.close()) ?? [];
      await Promise.all([
        handBack,
        p.handBack.give(handedBack.map((j) => j.delivery)),
        p.handBack.give(undeferred.map((m) => m.delivery)),
      ]);
      // Our own pending blocking pop may take back what we just pushed: wait for it and hand that
      // back too (once the pop returns no other is issued), before the broker closes.
      if (waiting.length + handedBack.length + undeferred.length > 0) await p.consumer.idleSettled(IDLE_SETTLE_MS);
      await p.handBack.settle();
      p.executor.close();
      await p.rejection.settle();
      await p.flusher.close();
      await p.plane?.close();
      await p.dispatcher.fleet?.close();
      p.dispatcher.close();
      await this.watchdog?.close();
      if (p.ownsConnections) await Promise.allSettled([p.broker.close(), p.backend?.close()]);
    })();
    const forced = (await raceTimeout(closing, forceMs)) === TIMED_OUT;
    if (forced) {
      log.error(
        { event: 'worker.force_stop', timeout_ms: forceMs },
        'Shutdown did not finish in time; stopping anyway',
      );
      p.dispatcher.close();
      void p.plane?.close();
      void this.watchdog?.close();
      if (p.ownsConnections) void Promise.allSettled([p.broker.close(), p.backend?.close()]);
    }
    log.info(
      { event: 'worker.stopped', handed_back: waiting.length + handedBack.length, executed: custody.finished },
      'Worker stopped',
    );
    if (this.failure !== null) this.setState('failed', 'fatal_error', this.failure.error);
    else this.setState('stopped', forced ? 'force_timeout' : undefined);
  }
}
