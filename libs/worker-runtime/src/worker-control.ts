import { arch, type as osType, release } from 'node:os';
import { checkQueueBinding, type ExchangeType, type QueueBinding, taskQueuesFromSettings } from '@celeriac/broker';
import { CELERY_DEFAULTS } from '@celeriac/client';
import {
  type ActiveQueueInfo,
  CELERIAC_SW_VER,
  type ControlTarget,
  type QueriedTask,
  type RegisteredTaskInfo,
  type ScheduledRequestInfo,
  type TaskRequestInfo,
  type TaskSettingResult,
  type WorkerStatsInfo,
} from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { redactUrl } from '@celeriac/logger';
import { parseRateLimit } from '@celeriac/protocol';
import type { Job } from './job-custody.js';
import type { PoolSize } from './pool-size.js';
import type { TaskPlan } from './task-plan.js';
import type { WorkerApp } from './worker-app.js';

/** Jobs held but not running, where they wait. */
export interface WaitingJobs {
  /** Ready for a slot. */
  ready: readonly Job[];
  /** Waiting for their eta/countdown, with the due time (epoch ms). */
  eta: ReadonlyArray<{ dueMs: number; item: Job }>;
  /** Waiting for a rate-limit token. */
  rateLimited: readonly Job[];
}

/** The parts of a running worker the control commands read and steer (built by `Worker`). */
export interface ControlledWorker {
  readonly hostname: string;
  readonly app: WorkerApp;
  readonly brokerUrl: string;
  /** Tasks at once and the prefetch limit: `pool_grow` / `pool_shrink` resize it. */
  readonly pool: PoolSize;
  /** The queue list the consumer fetches from: add/cancel_consumer change it in place. */
  readonly queues: string[];
  readonly logger: Logger;
  runningJobs(): Iterable<Job>;
  waitingJobs(): WaitingJobs;
  /** Takes the waiting jobs `match` selects out of the ready queue, eta heap and rate limiter. */
  dropWaiting(match: (job: Job) => boolean): Job[];
  /** A job taken out of waiting must not run: custody start + REVOKED (the executor's `revoke`). */
  revokeWaiting(job: Job): void;
  /** `revoke(terminate=True)` of a running job; false when it is not running. */
  terminate(job: Job, signal: string): boolean;
  /** The plan new messages of a task name get. */
  planFor(name: string): TaskPlan | undefined;
  /** Installs a changed plan (rate or time limits): new messages use it, rate-limited ones follow at once. */
  replacePlan(plan: TaskPlan): void;
  /** Tasks started since start, by name. */
  totals(): ReadonlyMap<string, number>;
  /** New queues take effect at the next fetch; this starts one. */
  pokeConsumer(): void;
  /** Starts ready jobs while slots are free (after the pool grew). */
  pumpReady(): void;
  /** Declares the `_kombu.binding.*` entries of queues about to be consumed (the broker's `declareQueues`); absent on brokers without exchanges. */
  declareQueues?(bindings: readonly QueueBinding[]): Promise<unknown>;
  /** Warm shutdown of the worker (the program exits once it stopped). */
  shutdown(reason: string): void;
}

/** Celery's `filter_hidden_settings` names: their values are masked in `inspect conf`. */
const HIDDEN_SETTING = /API|TOKEN|KEY|SECRET|PASS|SIGNATURE|DATABASE/i;

function confValue(value: unknown): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return value.map(confValue);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, confValue(v)]));
  }
  return value;
}

function headerString(job: Job, name: string): string | undefined {
  const value = job.message.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Celery's `Request.info()` of a job. */
export function requestInfo(job: Job, running: boolean): TaskRequestInfo {
  const m = job.message;
  const info: TaskRequestInfo = {
    id: m.id,
    name: m.task,
    args: m.args,
    kwargs: m.kwargs,
    timeStart: running && job.startedAt > 0 ? (performance.timeOrigin + job.startedAt) / 1000 : null,
    acknowledged: job.state === 'running_acked',
    deliveryInfo: {
      exchange: m.exchange,
      routingKey: m.routingKey || job.delivery.queue,
      priority: m.priority,
      redelivered: m.redelivered ? true : null,
    },
    workerPid: running ? process.pid : null,
  };
  const argsrepr = headerString(job, 'argsrepr');
  const kwargsrepr = headerString(job, 'kwargsrepr');
  if (argsrepr !== undefined) info.argsrepr = argsrepr;
  if (kwargsrepr !== undefined) info.kwargsrepr = kwargsrepr;
  return info;
}

/**
 * A Celeriac worker as a Celery pidbox node sees it (`ControlTarget`): what runs and waits, the
 * registered tasks and their live settings, the queues, and the levers (rate and time limits
 * without a restart, consumers, revoke, terminate, warm shutdown).
 */
export class WorkerControl implements ControlTarget {
  /** The rate limit of each task as last set, in Celery's form (`'10/m'`), for `inspect registered`. */
  private readonly rateStrings = new Map<string, string | null>();

  constructor(private readonly w: ControlledWorker) {}

  get hostname(): string {
    return this.w.hostname;
  }

  active(): TaskRequestInfo[] {
    return [...this.w.runningJobs()].map((job) => requestInfo(job, true));
  }

  reserved(): TaskRequestInfo[] {
    const waiting = this.w.waitingJobs();
    return [...waiting.ready, ...waiting.rateLimited].map((job) => requestInfo(job, false));
  }

  scheduled(): ScheduledRequestInfo[] {
    return this.w.waitingJobs().eta.map(({ dueMs, item }) => ({
      eta: headerString(item, 'eta') ?? new Date(dueMs).toISOString(),
      priority: item.message.priority,
      request: requestInfo(item, false),
    }));
  }

  registered(): RegisteredTaskInfo[] {
    return [...this.w.app.tasks.keys()].map((name) => {
      const plan = this.w.planFor(name);
      return {
        name,
        attributes: {
          rate_limit: this.rateString(name),
          exchange: null,
          routing_key: null,
          acks_late: plan?.acksLate ?? false,
          ignore_result: plan?.ignoreResult ?? false,
          time_limit: plan?.timeLimitSec ?? null,
          soft_time_limit: plan?.softTimeLimitSec ?? null,
          max_retries: plan?.maxRetries ?? null,
          default_retry_delay: plan?.defaultRetryDelaySec ?? null,
        },
      };
    });
  }

  private rateString(name: string): string | null {
    if (this.rateStrings.has(name)) return this.rateStrings.get(name) ?? null;
    try {
      const configured = this.w.app.taskOptions(name).rate_limit;
      return configured === undefined || configured === null ? null : String(configured);
    } catch {
      return null;
    }
  }

  stats(): WorkerStatsInfo {
    return {
      total: Object.fromEntries(this.w.totals()),
      concurrency: this.w.pool.concurrency,
      // No limit (multiplier 0) shows as Celery's qos of 0.
      prefetchCount: Number.isFinite(this.w.pool.prefetchLimit)
        ? this.w.pool.prefetchLimit + this.w.waitingJobs().eta.length
        : 0,
    };
  }

  activeQueues(): ActiveQueueInfo[] {
    return this.w.queues.map((name) => ({ name }));
  }

  conf(withDefaults: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this.w.app.conf.settings)) {
      const isDefault =
        Object.hasOwn(CELERY_DEFAULTS, key) && JSON.stringify(CELERY_DEFAULTS[key]) === JSON.stringify(value);
      if (!withDefaults && isDefault) continue;
      out[key] = HIDDEN_SETTING.test(key) ? '********' : confValue(value);
    }
    return out;
  }

  queryTask(ids: string[]): QueriedTask[] {
    const wanted = new Set(ids);
    const found: QueriedTask[] = [];
    for (const job of this.w.runningJobs()) {
      if (wanted.has(job.message.id)) found.push({ state: 'active', request: requestInfo(job, true) });
    }
    const waiting = this.w.waitingJobs();
    for (const job of [...waiting.ready, ...waiting.rateLimited, ...waiting.eta.map((e) => e.item)]) {
      if (wanted.has(job.message.id)) found.push({ state: 'reserved', request: requestInfo(job, false) });
    }
    return found;
  }

  report(): string {
    const broker = redactUrl(this.w.brokerUrl);
    return [
      `software -> celeriac:${CELERIAC_SW_VER} node:${process.version}`,
      `            platform -> system:${osType()} arch:${arch()} kernel version:${release()}`,
      `            loader -> @celeriac/client`,
      `            settings -> transport:redis results:${redactUrl(String(this.w.app.conf.settings.result_backend ?? broker))}`,
      '',
      `broker_url: ${broker}`,
      `worker_concurrency: ${this.w.pool.concurrency}`,
      `queues: ${this.w.queues.join(', ')}`,
      '',
    ].join('\n');
  }

  rateLimit(taskName: string, rateLimit: string | null): TaskSettingResult {
    const plan = this.w.app.tasks.has(taskName) ? this.w.planFor(taskName) : undefined;
    if (plan === undefined) return 'unknown_task';
    const perSec = parseRateLimit(rateLimit);
    this.w.replacePlan({ ...plan, rateLimitPerSec: perSec });
    this.rateStrings.set(taskName, perSec === null ? null : rateLimit);
    this.w.logger.info(
      { event: 'worker.rate_limit_changed', task: taskName, rate_limit: rateLimit, per_sec: perSec },
      `Rate limit of ${taskName} is now ${rateLimit ?? 'none'}`,
    );
    return 'ok';
  }

  timeLimit(taskName: string, soft: number | null, hard: number | null): TaskSettingResult {
    const plan = this.w.app.tasks.has(taskName) ? this.w.planFor(taskName) : undefined;
    if (plan === undefined) return 'unknown_task';
    const seconds = (v: number | null) => (v !== null && Number.isFinite(v) && v > 0 ? v : null);
    this.w.replacePlan({ ...plan, timeLimitSec: seconds(hard), softTimeLimitSec: seconds(soft) });
    this.w.logger.info(
      { event: 'worker.time_limit_changed', task: taskName, soft_time_limit_s: soft, time_limit_s: hard },
      `Time limits of ${taskName} are now soft ${soft ?? 'none'}, hard ${hard ?? 'none'}`,
    );
    return 'ok';
  }

  /**
   * Celery's `add_task_queue`: a queue of `task_queues` keeps its binding there; another is bound
   * to `exchange` (default: the queue's name) of `exchangeType` (default direct) with `routingKey`
   * (default: the queue's name). The binding is declared before the queue is consumed, as the
   * worker does at start, so exchange-routed sends reach it; a binding that cannot be declared
   * (an unknown exchange type, Redis down) fails the command and the queue is not added.
   */
  async addConsumer(
    queue: string,
    options: { exchange: string | null; exchangeType: string; routingKey: string | null } = {
      exchange: null,
      exchangeType: 'direct',
      routingKey: null,
    },
  ): Promise<void> {
    if (this.w.queues.includes(queue)) return;
    const binding =
      taskQueuesFromSettings(this.w.app.conf.settings).bindings.get(queue) ??
      checkQueueBinding({
        queue,
        exchange: options.exchange || queue,
        exchangeType: (options.exchangeType || 'direct') as ExchangeType,
        routingKey: options.routingKey || queue,
      });
    await this.w.declareQueues?.([binding]);
    if (this.w.queues.includes(queue)) return;
    this.w.queues.push(queue);
    this.w.logger.info(
      { event: 'worker.consumer_added', queue, queues: [...this.w.queues] },
      `Started consuming from ${queue}`,
    );
    this.w.pokeConsumer();
  }

  cancelConsumer(queue: string): void {
    const at = this.w.queues.indexOf(queue);
    if (at === -1) return;
    this.w.queues.splice(at, 1);
    this.w.logger.info(
      { event: 'worker.consumer_cancelled', queue, queues: [...this.w.queues] },
      `No longer consuming from ${queue}`,
    );
  }

  /** `pool_grow n`: n more tasks at once (and n × multiplier more prefetched); ready jobs start at once. */
  poolGrow(n: number): void {
    const before = this.w.pool.concurrency;
    this.w.pool.grow(n);
    this.logResize(before);
    this.w.pumpReady();
    this.w.pokeConsumer();
  }

  /** `pool_shrink n`: n fewer (at least one stays); running tasks finish, no new one starts above the new size. */
  poolShrink(n: number): void {
    const before = this.w.pool.concurrency;
    this.w.pool.shrink(n);
    this.logResize(before);
  }

  private logResize(before: number): void {
    const { concurrency, prefetchLimit } = this.w.pool;
    this.w.logger.info(
      { event: 'control.pool_resized', from: before, concurrency, prefetch_limit: prefetchLimit },
      `pool resized from ${before} to ${concurrency}`,
    );
  }

  shutdown(reason: string): void {
    this.w.shutdown(reason);
  }

  revoke(ids: string[], options: { terminate: boolean; signal: string }): string[] {
    const wanted = new Set(ids);
    const dropped = this.w.dropWaiting((j) => wanted.has(j.message.id));
    for (const job of dropped) this.w.revokeWaiting(job);
    if (!options.terminate) return [];
    // As Celery's `terminate: <ids>`: the requests found here, waiting ones included.
    const terminated = dropped.map((job) => job.message.id);
    for (const job of [...this.w.runningJobs()]) {
      if (wanted.has(job.message.id) && this.w.terminate(job, options.signal)) terminated.push(job.message.id);
    }
    return terminated;
  }
}
