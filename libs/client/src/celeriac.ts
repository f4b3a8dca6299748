import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RedisBroker } from '@celeriac/broker';
import { createLogger, type Logger, redactUrl } from '@celeriac/logger';
import { encodeTaskEnvelope, type OutgoingTask, type Serializer, type Signature } from '@celeriac/protocol';
import { RedisResultBackend } from '@celeriac/result-backend';
import { annotationsFor, type TaskAnnotations } from './annotations.js';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult, type ResultSource } from './async-result.js';
import { Chain, type ChainSender, planChain } from './chain.js';
import { CeleriacConf } from './conf.js';
import {
  ApplyOptionsError,
  BatchPartiallySentError,
  ClientClosedError,
  ConfigError,
  TaskAlreadyRegisteredError,
} from './errors.js';
import { CoalescingPublisher, type PublishItem } from './publisher.js';
import { compileRoutes, expandRoute, type Route, type TaskRoutes } from './router.js';
import { Task } from './task.js';
import type { TaskFn, TaskOptions } from './task-options.js';

/** Options of the app object itself (not Celery settings). */
export interface CeleriacOptions {
  /** Logger for the app's connections; by default warnings and errors go to stdout as JSON. */
  logger?: Logger;
}

const SERIALIZERS: ReadonlySet<string> = new Set(['json', 'msgpack']);

/** A Celery-compatible app: registers tasks, sends them over Redis, and reads their results. */
export class Celeriac implements ChainSender {
  /** The app's main name (Celery's `main`). */
  readonly main: string;
  /** The app's settings (Celery names; old upper-case names accepted). */
  readonly conf: CeleriacConf;
  /** Logger handed to the broker and backend; set it before the first send to take effect. */
  logger: Logger;

  private readonly registry = new Map<string, Task>();
  private readonly publisher: CoalescingPublisher;
  private readonly oid = randomUUID();
  private readonly origin = `gen${process.pid}@${hostname()}`;
  private readonly resultSource: ResultSource;
  private readonly resultSourceFn: () => ResultSource;
  private brokerInstance: RedisBroker | undefined;
  private brokerStarted: Promise<RedisBroker> | undefined;
  private backendInstance: RedisResultBackend | undefined;
  private backendStarted: Promise<RedisResultBackend> | undefined;
  private routeMatcher: ((name: string) => unknown) | undefined;
  private readonly optionsCache = new Map<string, TaskOptions>();
  private closing: Promise<void> | undefined;
  // Set once close() has sent what was queued: from then on no connection is opened again.
  private connectionsClosed = false;

  constructor(main: string, settings: Record<string, unknown> = {}, options: CeleriacOptions = {}) {
    this.main = main;
    this.logger = options.logger ?? createLogger({ level: 'warn', pretty: false, bindings: { component: 'celeriac' } });
    this.conf = new CeleriacConf(settings, () => {
      this.routeMatcher = undefined;
      this.optionsCache.clear();
    });
    this.publisher = new CoalescingPublisher(() => this.startedBroker());
    this.resultSource = {
      get: async (id) => (await this.startedBackend()).get(id),
      waitFor: async (id, timeoutMs, options) => (await this.startedBackend()).waitFor(id, timeoutMs, options),
    };
    this.resultSourceFn = () => this.resultSource;
  }

  /** Every task registered on this app, by name. */
  get tasks(): ReadonlyMap<string, Task> {
    return this.registry;
  }

  /** Registers a task under `name` (the name workers and other languages call it by). */
  task<F extends TaskFn>(name: string, fn: F, options: TaskOptions = {}): Task<F> {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('a task needs a non-empty name');
    if (typeof fn !== 'function') throw new TypeError(`task "${name}" needs a function`);
    const existing = this.registry.get(name);
    if (existing) {
      if (existing.fn === fn) return existing as Task<F>;
      throw new TaskAlreadyRegisteredError(name);
    }
    const task = new Task<F>(this, name, fn, options);
    this.registry.set(name, task as unknown as Task);
    this.optionsCache.delete(name);
    return task;
  }

  /** Effective options of a task: its own options with `task_annotations` on top. */
  taskOptions(name: string): TaskOptions {
    let cached = this.optionsCache.get(name);
    if (!cached) {
      const own = this.registry.get(name)?.options ?? {};
      const annotations = annotationsFor(name, this.conf.settings.task_annotations as TaskAnnotations);
      cached = Object.freeze({ ...own, ...annotations }) as TaskOptions;
      this.optionsCache.set(name, cached);
    }
    return cached;
  }

  /**
   * The route of a task: the per-call `queue`, else the task's own `queue` option, else
   * `task_routes`, else `task_default_queue`.
   */
  routeFor(name: string, options: { queue?: string; priority?: number } = {}): Route {
    return this.resolveRoute(name, options, this.taskOptions(name));
  }

  /** Sends a task by name (it need not be registered here). */
  sendTask(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult> {
    return this.applyTask(name, args, kwargs, options, false);
  }

  /** A handle on any task id's result (also ids sent by Python clients). */
  AsyncResult(id: string): AsyncResult {
    return new AsyncResult(id, this.resultSourceFn);
  }

  /** A chain bound to this app: `app.chain(add.s(1, 2), mul.s(10)).applyAsync()`. */
  chain(...steps: Signature[]): Chain {
    return new Chain(steps, this);
  }

  /** Publishes a chain: the first step with the rest in `embed.chain`; resolves to the last step's result. */
  async applyChain(steps: readonly Signature[], options: ApplyOptions = {}): Promise<AsyncResult> {
    const plan = planChain(steps);
    const { task_id, ...firstOptions } = plan.first.options as ApplyOptions & Record<string, unknown>;
    const outgoing = this.buildOutgoing(
      plan.first.task,
      plan.first.args,
      plan.first.kwargs,
      { ...firstOptions, ...options, task_id: task_id as string },
      this.registry.has(plan.first.task),
    );
    outgoing.embed = { ...outgoing.embed, chain: plan.embedChain };
    await this.publish(outgoing);
    return this.AsyncResult(plan.lastId);
  }

  /** @internal Sends one task; used by `Task` and `sendTask`. */
  applyTask(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions | undefined,
    useTaskOptions: boolean,
  ): Promise<AsyncResult> {
    try {
      if (this.closing) throw new ClientClosedError(`send task ${name}`);
      const outgoing = this.buildOutgoing(name, args, kwargs, options ?? {}, useTaskOptions);
      const item = this.toItem(outgoing);
      const result = new AsyncResult(outgoing.id, this.resultSourceFn);
      return this.publisher.add(item).then(() => result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * @internal Sends one message per args list; used by `Task.applyMany`. Entries are handed to the
   * publisher as they are built, so Redis stores one chunk while the next is encoded.
   */
  applyTaskMany(name: string, argsList: readonly unknown[][], options: ApplyOptions = {}): Promise<AsyncResult[]> {
    if (this.closing) return Promise.reject(new ClientClosedError(`send task ${name}`));
    if (options.task_id !== undefined) {
      return Promise.reject(new ApplyOptionsError('applyMany cannot reuse one task_id for many tasks'));
    }
    const results: AsyncResult[] = new Array(argsList.length);
    const batches: Promise<void>[] = [];
    let lastBatch: Promise<void> | undefined;
    for (let i = 0; i < argsList.length; i++) {
      let item: PublishItem;
      let id: string;
      try {
        const outgoing = this.buildOutgoing(name, argsList[i]!, {}, options, true);
        item = this.toItem(outgoing);
        id = outgoing.id;
      } catch (error) {
        if (i === 0) return Promise.reject(error);
        const failure = new BatchPartiallySentError(i, results.slice(0, i), error);
        return Promise.all(batches).then(() => Promise.reject(failure));
      }
      const batch = this.publisher.add(item);
      if (batch !== lastBatch) batches.push(batch);
      lastBatch = batch;
      results[i] = new AsyncResult(id, this.resultSourceFn);
    }
    return Promise.all(batches).then(() => results);
  }

  /** Publishes a fully built task message (the path workers use for retries, callbacks and chains). */
  publish(outgoing: OutgoingTask): Promise<void> {
    if (this.closing) return Promise.reject(new ClientClosedError(`publish task ${outgoing.task}`));
    try {
      return this.publisher.add(this.toItem(outgoing));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The shared broker connection (created on first use). */
  broker(): RedisBroker {
    if (!this.brokerInstance) {
      if (this.connectionsClosed) throw new ClientClosedError('open a broker connection');
      const url = this.redisUrl('broker_url', this.conf.settings.broker_url);
      const transport = (this.conf.settings.broker_transport_options ?? {}) as Record<string, unknown>;
      const visibility = transport.visibility_timeout;
      this.brokerInstance = new RedisBroker({
        url,
        logger: this.logger,
        ...(typeof visibility === 'number' ? { visibilityTimeoutMs: visibility * 1000 } : {}),
      });
    }
    return this.brokerInstance;
  }

  /** The shared result backend (created on first use); without `result_backend` the broker's Redis is used. */
  backend(): RedisResultBackend {
    if (!this.backendInstance) {
      if (this.connectionsClosed) throw new ClientClosedError('open a result backend connection');
      const s = this.conf.settings;
      const configured = s.result_backend ?? s.broker_url;
      const url = this.redisUrl('result_backend', configured);
      const expires = s.result_expires;
      this.backendInstance = new RedisResultBackend({
        url,
        logger: this.logger,
        ...(typeof expires === 'number' ? { resultExpiresSec: expires } : {}),
      });
    }
    return this.backendInstance;
  }

  /** Sends what is queued, then closes the broker and backend connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    await this.publisher.drain();
    this.connectionsClosed = true;
    const closes: Promise<unknown>[] = [];
    if (this.brokerInstance) {
      const broker = this.brokerInstance;
      closes.push((this.brokerStarted ?? Promise.resolve()).catch(() => {}).then(() => broker.close()));
    }
    if (this.backendInstance) {
      const backend = this.backendInstance;
      closes.push((this.backendStarted ?? Promise.resolve()).catch(() => {}).then(() => backend.close()));
    }
    await Promise.all(closes);
  }

  private startedBroker(): Promise<RedisBroker> {
    let started = this.brokerStarted;
    if (!started) {
      const instance = this.broker();
      started = instance.start().then(() => instance);
      this.brokerStarted = started;
      // A failed start is retried by the next caller (e.g. Redis was briefly unreachable).
      started.catch(() => {
        if (this.brokerStarted === started) this.brokerStarted = undefined;
      });
    }
    return started;
  }

  private startedBackend(): Promise<RedisResultBackend> {
    if (this.closing) return Promise.reject(new ClientClosedError('read a result'));
    let started = this.backendStarted;
    if (!started) {
      const instance = this.backend();
      started = instance.start().then(() => instance);
      this.backendStarted = started;
      // A failed start is retried by the next caller (e.g. Redis was briefly unreachable).
      started.catch(() => {
        if (this.backendStarted === started) this.backendStarted = undefined;
      });
    }
    return started;
  }

  private resolveRoute(name: string, options: { queue?: string; priority?: number }, own: TaskOptions): Route {
    const defaultQueue = String(this.conf.settings.task_default_queue ?? 'celery');
    if (!this.routeMatcher) this.routeMatcher = compileRoutes(this.conf.settings.task_routes as TaskRoutes);
    const routed = expandRoute(this.routeMatcher(name) as Parameters<typeof expandRoute>[0]);
    const queue = options.queue ?? (typeof own.queue === 'string' ? own.queue : undefined) ?? routed?.queue;
    const route: Route = queue
      ? { queue, routing_key: queue === routed?.queue ? (routed.routing_key ?? queue) : queue }
      : { queue: defaultQueue, routing_key: defaultQueue };
    const priority = options.priority ?? own.priority ?? routed?.priority;
    if (priority !== undefined && priority !== null) route.priority = priority;
    return route;
  }

  private redisUrl(setting: string, value: unknown): string {
    if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) {
      const shown = typeof value === 'string' ? redactUrl(value) : String(value);
      throw new ConfigError(`${setting} must be a redis:// or rediss:// URL, got "${shown}"`);
    }
    return value;
  }

  private toItem(outgoing: OutgoingTask): PublishItem {
    const raw = encodeTaskEnvelope(outgoing);
    // The encoder concatenates ~40 pieces into a rope; reading one character makes V8 flatten it
    // now, while the pieces are still young garbage. Kept as a rope until ioredis writes it, the
    // tree survives into the old generation and GC costs ~3x the encoding (16 vs 5 µs a message).
    raw.charCodeAt(raw.length >> 1);
    const item: PublishItem = { queue: outgoing.queue, raw };
    if (outgoing.priority) item.priority = outgoing.priority;
    return item;
  }

  private buildOutgoing(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
    useTaskOptions: boolean,
  ): OutgoingTask {
    if (!Array.isArray(args)) throw new ApplyOptionsError(`args of task ${name} must be an array, got ${typeof args}`);
    if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
      throw new ApplyOptionsError(`kwargs of task ${name} must be an object`);
    }
    const s = this.conf.settings;
    const own: TaskOptions = useTaskOptions ? this.taskOptions(name) : {};
    const id = options.task_id ?? randomUUID();
    const route = this.resolveRoute(name, options, own);
    const now = Date.now();

    let eta: Date | null = null;
    if (options.countdown !== undefined && options.countdown !== null) {
      if (!Number.isFinite(options.countdown)) throw new ApplyOptionsError('countdown must be a number of seconds');
      eta = new Date(now + options.countdown * 1000);
    } else if (options.eta !== undefined && options.eta !== null) {
      if (!(options.eta instanceof Date) || Number.isNaN(options.eta.getTime())) {
        throw new ApplyOptionsError('eta must be a valid Date');
      }
      eta = options.eta;
    }

    // The envelope's `properties.expiration` (ms string) is derived from `expires` by the encoder.
    let expires: Date | null = null;
    if (options.expires !== undefined && options.expires !== null) {
      if (options.expires instanceof Date) {
        if (Number.isNaN(options.expires.getTime())) throw new ApplyOptionsError('expires must be a valid Date');
        expires = options.expires;
      } else if (typeof options.expires === 'number' && Number.isFinite(options.expires)) {
        expires = new Date(now + options.expires * 1000);
      } else {
        throw new ApplyOptionsError('expires must be a number of seconds or a Date');
      }
    }

    const serializer = (options.serializer ?? own.serializer ?? s.task_serializer ?? 'json') as Serializer;
    if (!SERIALIZERS.has(serializer)) {
      throw new ApplyOptionsError(`serializer "${String(serializer)}" is not supported; use "json" or "msgpack"`);
    }

    const priority = route.priority;
    // 0-9 on Redis; larger values (AMQP allows 255) land in the highest step, as with kombu.
    if (priority !== undefined && (!Number.isInteger(priority) || priority < 0 || priority > 255)) {
      throw new ApplyOptionsError(
        `priority must be an integer from 0 to 9 (0 is served first), got ${String(priority)}`,
      );
    }

    const hard = options.time_limit ?? own.time_limit ?? (s.task_time_limit as number | null) ?? null;
    const soft = options.soft_time_limit ?? own.soft_time_limit ?? (s.task_soft_time_limit as number | null) ?? null;
    const ignoreResult = options.ignore_result ?? own.ignore_result ?? (s.task_ignore_result as boolean) ?? false;

    const outgoing: OutgoingTask = {
      id,
      task: name,
      args,
      kwargs,
      embed: { callbacks: toList(options.link), errbacks: toList(options.link_error), chain: null, chord: null },
      eta,
      expires,
      retries: 0,
      timelimit: [hard, soft],
      rootId: options.root_id ?? id,
      parentId: options.parent_id ?? null,
      shadow: options.shadow ?? null,
      ignoreResult: Boolean(ignoreResult),
      origin: this.origin,
      replyTo: this.oid,
      priority: priority ?? 0,
      queue: route.queue,
      serializer,
    };
    if (options.headers && Object.keys(options.headers).length > 0) outgoing.extraHeaders = options.headers;
    return outgoing;
  }
}

function toList(value: Signature | Signature[] | undefined): Signature[] | null {
  if (value === undefined || value === null) return null;
  return Array.isArray(value) ? value : [value];
}
