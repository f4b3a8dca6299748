import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { globalKeyPrefixFromSettings, type TaskBroker } from '@celeriac/broker';
import { formatSettingNotice } from '@celeriac/config-schema/settings-report';
import { createLogger, type Logger } from '@celeriac/logger';
import type { OutgoingTask, Signature } from '@celeriac/protocol';
import type { RedisResultBackend } from '@celeriac/result-backend';
import { annotationsFor, type TaskAnnotations } from './annotations.js';
import { AppControl } from './app-control.js';
import type { ApplyOptions } from './apply-options.js';
import { AsyncResult, type ResultSource, type Revoker } from './async-result.js';
import { buildOutgoing, NO_TASK_OPTIONS, type OutgoingContext, queueTableOf } from './build-outgoing.js';
import { canvasResultSource } from './canvas-result-source.js';
import { Chain, planChain } from './chain.js';
import { CeleriacConf } from './conf.js';
import { AppConnections } from './connections.js';
import { type CurrentTask, currentTask } from './current-task.js';
import { runEagerly } from './eager-result.js';
import {
  ApplyOptionsError,
  BatchPartiallySentError,
  ClientClosedError,
  ConfigError,
  TaskAlreadyRegisteredError,
  TaskDefinitionError,
} from './errors.js';
import {
  CoalescingPublisher,
  type PublishItem,
  type PublishRetryPolicy,
  publishItem,
  publishRetryPolicy,
} from './publisher.js';
import { compileRoutes, type Route, resolveRoute, type TaskRoutes } from './router.js';
import { SentEvents } from './sent-events.js';
import { Task, type TaskSender } from './task.js';
import { type TaskFn, type TaskOptions, taskOptionProblems } from './task-options.js';

/** Options of the app object itself (not Celery settings). */
export interface CeleriacOptions {
  /** Logger for the app's connections; by default warnings and errors go to stdout as JSON. */
  logger?: Logger;
}

/** `open` → `closing` (sending what is queued) → `closed`; logged as `client.state`. */
export type CeleriacState = 'open' | 'closing' | 'closed';

/** A Celery-compatible app: registers tasks, sends them over Redis, and reads their results. */
export class Celeriac implements TaskSender {
  /** The app's main name (Celery's `main`). */
  readonly main: string;
  /** The app's settings (Celery names; old upper-case names accepted). */
  readonly conf: CeleriacConf;
  /** Logger handed to the broker and backend; set it before the first send to take effect. */
  logger: Logger;
  /** Celery's `app.control`: inspect, ping, rate limits, revoke, shutdown... of the fleet's nodes. */
  readonly control: AppControl;

  private readonly registry = new Map<string, Task>();
  private readonly publisher: CoalescingPublisher;
  /** `client.always_eager_ignored` is logged once per app. */
  private eagerSendTaskWarned = false;
  private readonly connections: AppConnections;
  private readonly oid = randomUUID();
  private readonly origin = `gen${process.pid}@${hostname()}`;
  private readonly resultSource: ResultSource;
  private readonly resultSourceFn: () => ResultSource;
  private readonly revoker: () => Revoker;
  /** `task_send_sent_event`: the sender while the setting is on, else null (resolved with the settings). */
  private sentEvents: SentEvents | null = null;
  private sentSender: SentEvents | undefined;
  private context: OutgoingContext | undefined;
  private readonly optionsCache = new Map<string, Readonly<TaskOptions>>();
  private closing: Promise<void> | undefined;
  private stateValue: CeleriacState = 'open';

  constructor(main: string, settings: Record<string, unknown> = {}, options: CeleriacOptions = {}) {
    this.main = main;
    this.logger = options.logger ?? createLogger({ level: 'warn', pretty: false, bindings: { component: 'celeriac' } });
    this.conf = new CeleriacConf(settings, () => {
      this.context = undefined;
      this.optionsCache.clear();
    });
    this.connections = new AppConnections(
      () => this.conf.settings,
      () => this.logger,
    );
    this.publisher = new CoalescingPublisher(
      () => this.connections.startedBroker(),
      () => this.publishRetryPolicy(),
      (error, retry, waitSec) =>
        this.logger.warn(
          { event: 'client.publish_retry', retry, wait_sec: waitSec, err: error },
          'Publishing failed on a connection error; retrying (task_publish_retry_policy)',
        ),
    );
    this.resultSource = {
      get: async (id) => (await this.startedBackend()).get(id),
      waitFor: async (id, timeoutMs, options) => (await this.startedBackend()).waitFor(id, timeoutMs, options),
      ...canvasResultSource(() => this.startedBackend()),
    };
    this.resultSourceFn = () => this.resultSource;
    this.control = new AppControl(
      () => this.conf.settings,
      () => this.logger,
    );
    this.revoker = () => this.control;
  }

  /** `open`, `closing` or `closed`. */
  get state(): CeleriacState {
    return this.stateValue;
  }

  /** Every task registered on this app, by name. */
  get tasks(): ReadonlyMap<string, Task> {
    return this.registry;
  }

  /**
   * Registers a task under `name` (the name workers and other languages call it by). Options the
   * client and worker do not honour, and values of the wrong type, throw `TaskDefinitionError`.
   */
  task<F extends TaskFn>(name: string, fn: F, options: TaskOptions = {}): Task<F> {
    if (typeof name !== 'string' || name.length === 0)
      throw new TaskDefinitionError(String(name), ['the name must be a non-empty string']);
    if (typeof fn !== 'function') throw new TaskDefinitionError(name, ['the task needs a function']);
    const problems = taskOptionProblems(options);
    if (problems.length > 0) throw new TaskDefinitionError(name, problems);
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

  /**
   * Effective options of a task: the defaults the settings give (`task_default_rate_limit`,
   * `task_default_priority`, as Celery's Task class takes them from the config), its own options,
   * then `task_annotations` on top, in Celery's order (the first entry naming the task, then the
   * first `'*'` entry); `worker_disable_rate_limits` lifts every rate limit. An annotation Celeriac
   * does not honour throws `ConfigError`.
   */
  taskOptions(name: string): Readonly<TaskOptions> {
    let cached = this.optionsCache.get(name);
    if (!cached) {
      const own = this.registry.get(name)?.options ?? NO_TASK_OPTIONS;
      const annotations = annotationsFor(name, this.conf.settings.task_annotations as TaskAnnotations);
      const problems = taskOptionProblems(annotations);
      if (problems.length > 0) {
        throw new ConfigError(
          `task_annotations for "${name}" (its own entry and "*") cannot be used: ${problems.join('; ')}`,
        );
      }
      cached = Object.freeze({
        ...settingDefaults(this.conf.settings),
        ...own,
        ...annotations,
        ...(this.conf.settings.worker_disable_rate_limits === true ? { rate_limit: null } : {}),
      }) as Readonly<TaskOptions>;
      this.optionsCache.set(name, cached);
    }
    return cached;
  }

  /**
   * The route of a task: the per-call `queue`, else the task's own `queue` option, else
   * `task_routes`, else `task_default_queue`.
   */
  routeFor(name: string, options: { queue?: string; priority?: number } = {}): Route {
    const ctx = this.outgoingContext();
    const defaultQueue = String(ctx.settings.task_default_queue ?? 'celery');
    return resolveRoute(name, options, this.taskOptions(name), ctx.routes, defaultQueue, queueTableOf(ctx.settings));
  }

  /** Sends a task by name (it need not be registered here): its task options do not apply, as in Celery. */
  sendTask(
    name: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult> {
    if (this.conf.settings.task_always_eager === true && !this.eagerSendTaskWarned) {
      // Celery's AlwaysEagerIgnored: send_task always goes through the broker.
      this.eagerSendTaskWarned = true;
      this.logger.warn(
        { event: 'client.always_eager_ignored', task: name },
        'task_always_eager has no effect on sendTask: the task is sent to the broker',
      );
    }
    return this.send(name, args, kwargs, options, NO_TASK_OPTIONS);
  }

  /** A handle on any task id's result (also ids sent by Python clients). */
  AsyncResult(id: string): AsyncResult {
    return new AsyncResult(id, this.resultSourceFn, this.revoker);
  }

  /** A chain bound to this app: `app.chain(add.s(1, 2), mul.s(10)).applyAsync()`. */
  chain(...steps: Signature[]): Chain {
    return new Chain(steps, this);
  }

  /** Publishes a chain: the first step with the rest in `embed.chain`; resolves to the last step's result. */
  async applyChain(steps: readonly Signature[], options: ApplyOptions = {}): Promise<AsyncResult> {
    const plan = planChain(steps);
    const { task_id, ...firstOptions } = plan.first.options as ApplyOptions & Record<string, unknown>;
    const name = plan.first.task;
    const own = this.registry.has(name) ? this.taskOptions(name) : NO_TASK_OPTIONS;
    const callOptions = { ...firstOptions, ...options, task_id: task_id as string };
    const outgoing = buildOutgoing(this.outgoingContext(), name, plan.first.args, plan.first.kwargs, callOptions, own);
    outgoing.embed = { ...outgoing.embed, chain: plan.embedChain };
    await this.publish(outgoing);
    return this.AsyncResult(plan.lastId);
  }

  /** Sends one call of a registered task (`Task.delay`/`applyAsync`): its options and annotations apply. */
  applyTask(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions = {},
  ): Promise<AsyncResult> {
    try {
      if (this.conf.settings.task_always_eager === true) return this.applyEagerly(name, args, kwargs, options);
      return this.send(name, args, kwargs, options, this.taskOptions(name));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `task_always_eager`: runs a task registered on this app here, as Celery's `Task.apply`, and
   * resolves to its `EagerResult`; `task_eager_propagates` rejects with the task's error instead.
   */
  private async applyEagerly(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
  ): Promise<AsyncResult> {
    const task = this.registry.get(name);
    if (task === undefined) return this.send(name, args, kwargs, options, this.taskOptions(name));
    return runEagerly({
      name,
      fn: task.fn,
      own: this.taskOptions(name),
      args,
      kwargs,
      options,
      propagate: this.conf.settings.task_eager_propagates === true,
    });
  }

  /**
   * Sends one message per args list (`Task.applyMany`). Entries are handed to the publisher as
   * they are built, so Redis stores one chunk while the next is encoded.
   */
  applyTaskMany(name: string, argsList: readonly unknown[][], options: ApplyOptions = {}): Promise<AsyncResult[]> {
    if (this.closing) return Promise.reject(new ClientClosedError(`send task ${name}`));
    if (options.task_id !== undefined) {
      return Promise.reject(new ApplyOptionsError('applyMany cannot reuse one task_id for many tasks'));
    }
    if (this.conf.settings.task_always_eager === true && this.registry.has(name)) {
      return (async () => {
        const results: AsyncResult[] = [];
        for (const args of argsList) results.push(await this.applyEagerly(name, args, {}, options));
        return results;
      })();
    }
    let own: Readonly<TaskOptions>;
    try {
      own = this.taskOptions(name);
    } catch (error) {
      return Promise.reject(error);
    }
    const ctx = this.outgoingContext();
    const results: AsyncResult[] = new Array(argsList.length);
    const batches: Promise<void>[] = [];
    let lastBatch: Promise<void> | undefined;
    for (let i = 0; i < argsList.length; i++) {
      let item: PublishItem;
      let outgoing: OutgoingTask;
      let id: string;
      try {
        outgoing = buildOutgoing(ctx, name, argsList[i]!, {}, options, own);
        item = publishItem(this.compressed(outgoing));
        id = outgoing.id;
      } catch (error) {
        if (i === 0) return Promise.reject(error);
        const failure = new BatchPartiallySentError(i, results.slice(0, i), error);
        return Promise.all(batches).then(() => Promise.reject(failure));
      }
      const batch = this.publisher.add(item);
      if (this.sentEvents !== null) this.announce(batch, outgoing);
      if (batch !== lastBatch) batches.push(batch);
      lastBatch = batch;
      results[i] = new AsyncResult(id, this.resultSourceFn, this.revoker);
    }
    return Promise.all(batches).then(() => results);
  }

  /** Publishes a fully built task message (the path workers use for retries, callbacks and chains). */
  publish(outgoing: OutgoingTask): Promise<void> {
    if (this.closing) return Promise.reject(new ClientClosedError(`publish task ${outgoing.task}`));
    try {
      this.outgoingContext();
      const sent = this.publisher.add(publishItem(this.compressed(outgoing)));
      if (this.sentEvents !== null) this.announce(sent, outgoing);
      return sent;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `task-sent` once the message is in Redis (`task_send_sent_event`). */
  private announce(published: Promise<void>, outgoing: OutgoingTask): void {
    const events = this.sentEvents;
    if (events !== null)
      published.then(
        () => events.sent(outgoing),
        () => undefined,
      );
  }

  /** The shared broker connection (created on first use). */
  broker(): TaskBroker {
    return this.connections.broker();
  }

  /** The shared result backend (created on first use); without `result_backend` the broker's Redis is used. */
  backend(): RedisResultBackend {
    return this.connections.backend();
  }

  /** Sends what is queued, then closes the broker and backend connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.setState('closing');
    try {
      await this.publisher.drain();
      await Promise.all([this.connections.close(), this.control.close(), this.sentSender?.close()]);
    } finally {
      this.setState('closed');
    }
  }

  private setState(state: CeleriacState): void {
    const from = this.stateValue;
    this.stateValue = state;
    this.logger.debug({ event: 'client.state', app: this.main, from, state }, `celeriac app ${state}`);
  }

  private send(
    name: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: ApplyOptions,
    own: Readonly<TaskOptions>,
  ): Promise<AsyncResult> {
    try {
      if (this.closing) throw new ClientClosedError(`send task ${name}`);
      const parent = currentTask();
      const callOptions = parent === undefined ? options : this.childOptions(parent, name, options);
      const outgoing = buildOutgoing(this.outgoingContext(), name, args, kwargs, callOptions, own);
      const item = publishItem(this.compressed(outgoing));
      const result = new AsyncResult(outgoing.id, this.resultSourceFn, this.revoker);
      const published = this.publisher.add(item);
      if (this.sentEvents !== null) this.announce(published, outgoing);
      return published.then(() => result);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `task_publish_retry` / `task_publish_retry_policy` as they are now; a malformed policy is a ConfigError. */
  private publishRetryPolicy(): PublishRetryPolicy | null {
    try {
      return publishRetryPolicy(this.conf.settings);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  }

  /**
   * A call made from inside a running task (Celery's `send_task` with `current_worker_task`): it
   * gets the task as parent and its root; under `task_inherit_parent_priority` also its priority,
   * unless the call or the task's own options give one.
   */
  private childOptions(parent: CurrentTask, name: string, options: ApplyOptions): ApplyOptions {
    const child: ApplyOptions = {
      ...options,
      root_id: options.root_id ?? parent.rootId ?? parent.id,
      parent_id: options.parent_id ?? parent.id,
    };
    if (
      this.conf.settings.task_inherit_parent_priority === true &&
      options.priority === undefined &&
      this.registry.get(name)?.options.priority === undefined
    ) {
      child.priority = parent.priority;
    }
    return child;
  }

  private startedBackend(): Promise<RedisResultBackend> {
    if (this.closing) return Promise.reject(new ClientClosedError('read a result'));
    return this.connections.startedBackend();
  }

  /** The `task-sent` sender when `task_send_sent_event` is on (kept across settings changes). */
  private sentEventsFor(settings: Readonly<Record<string, unknown>>): SentEvents | null {
    if (settings.task_send_sent_event !== true) return null;
    this.sentSender ??= new SentEvents(
      String(settings.broker_url),
      this.origin,
      this.logger,
      globalKeyPrefixFromSettings(settings),
      settings,
    );
    return this.sentSender;
  }

  /**
   * `task_compression`, else `result_compression` (what Celery 5.2 compresses task messages with),
   * on a message that does not choose its own.
   */
  private compressed(outgoing: OutgoingTask): OutgoingTask {
    if (outgoing.compression !== undefined) return outgoing;
    const s = this.conf.settings;
    const compression = s.task_compression ?? s.result_compression;
    if (typeof compression === 'string' && compression !== '') outgoing.compression = compression;
    return outgoing;
  }

  /**
   * Warns once per setting the app does not act on or cannot use (docs/settings.md), through the
   * app's logger: `client.setting_not_honoured` and `client.setting_invalid`.
   */
  private reportSettings(): void {
    const { issues, notices } = this.conf.takeUnreported();
    for (const notice of notices) {
      this.logger.warn(
        { event: 'client.setting_not_honoured', setting: notice.setting, reason: notice.reason, kind: notice.kind },
        formatSettingNotice(notice),
      );
    }
    for (const issue of issues) {
      this.logger.warn(
        { event: 'client.setting_invalid', setting: issue.path, reason: issue.message },
        `setting ${issue.path}: ${issue.message}`,
      );
    }
  }

  /** Settings, compiled routes and identity for `buildOutgoing`; rebuilt after `conf.update`. */
  private outgoingContext(): OutgoingContext {
    if (!this.context) {
      this.reportSettings();
      const settings = this.conf.settings;
      this.sentEvents = this.sentEventsFor(settings);
      this.context = {
        settings,
        routes: compileRoutes(settings.task_routes as TaskRoutes),
        origin: this.origin,
        replyTo: this.oid,
        now: Date.now,
        newId: randomUUID,
      };
    }
    return this.context;
  }
}

/** Task options the settings give every registered task (Celery's `Task.from_config`). */
function settingDefaults(settings: Readonly<Record<string, unknown>>): TaskOptions {
  const defaults: TaskOptions = {};
  const rate = settings.task_default_rate_limit;
  if (typeof rate === 'string' || typeof rate === 'number') defaults.rate_limit = rate;
  const priority = settings.task_default_priority;
  if (typeof priority === 'number') defaults.priority = priority;
  return defaults;
}
