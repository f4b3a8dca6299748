import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { globalKeyPrefixFromSettings } from '@celeriac/broker';
import { type NodeStatus, validateEffectiveConfig } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import { agentVersion, defaultCeleriacBin, truncate } from './agent-info.js';
import type { AgentEvent, AgentOptions, AgentState } from './agent-types.js';
import { CenterClient, type ServedConfig } from './center-client.js';
import { ChildRegistry } from './child-registry.js';
import { ConfigPoller } from './config-poller.js';
import { ConfigWatcher, type DriftEvent } from './config-watcher.js';
import {
  type AgentError,
  AgentIllegalStateError,
  AgentStateDirError,
  ConfigInvalidError,
  ConfigRenderError,
  FleetLimitsError,
} from './errors.js';
import { FleetLimitsPublisher } from './fleet-limits-publisher.js';
import { LastKnownGood } from './last-known-good.js';
import { Leftovers } from './leftovers.js';
import { type AgentMetrics, MetricsServer } from './metrics-server.js';
import { OwnerRestorer } from './owner-restorer.js';
import type { LaunchContext } from './program-launch.js';
import { type PreparedProgram, prepareRevision } from './program-spec.js';
import { ProgramSupervisor } from './program-supervisor.js';
import type { ReplicaExit } from './replica.js';
import { StateLog } from './state-log.js';
import { StatusReporter } from './status-reporter.js';
import { WorkerProbe } from './worker-probe.js';

/**
 * The supervisor of one node: long-polls the center for the node's effective config, validates
 * it, writes each program's config file atomically, restarts exactly the programs a change
 * affects (rolling), supervises their processes, puts a dead worker's tasks back, keeps a
 * last-known-good copy, watches the files for hand edits, and reports status to the center.
 */
export class Agent {
  private readonly stateLog: StateLog<AgentState>;
  private readonly client: CenterClient;
  private readonly registry: ChildRegistry;
  private readonly leftovers: Leftovers;
  /** The warm stop of the leftovers no program adopted, under way or done. */
  private leftoversStopped: Promise<void> = Promise.resolve();
  private readonly lastKnownGood: LastKnownGood;
  private readonly restorer: OwnerRestorer;
  private readonly reporter: StatusReporter;
  private readonly watcher: ConfigWatcher;
  private readonly poller: ConfigPoller;
  private readonly supervisor: ProgramSupervisor;
  private readonly metrics: MetricsServer | undefined;
  /** `inspect ping` of the workers: their `responding` state in the program statuses. */
  private readonly probe: WorkerProbe;
  private readonly launchContext: LaunchContext;
  /** Writes the fleet-wide limits to the broker Redis (live: no restart) and reads their state for /metrics. */
  private readonly fleetLimits: FleetLimitsPublisher;
  private chain: Promise<void> = Promise.resolve();
  private appliedRevision: number | null = null;
  /** `broker_transport_options.global_keyprefix` of the config in force: the workers' keys are under it. */
  private brokerKeyPrefix = '';
  /** The Celery settings of the config in force: the restore dials the broker with its TLS and connection settings. */
  private brokerSettings: Readonly<Record<string, unknown>> = {};
  private attemptedRevision: number | undefined;
  private applyResult: NodeStatus['apply_result'] = 'pending';
  private message: string | undefined;
  private centerReachable = false;
  private readonly applies: Record<string, number> = { ok: 0, failed: 0, invalid: 0 };
  private readonly startedAt = new Date().toISOString();
  private closing: Promise<void> | undefined;
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  private readonly logger: Logger;

  constructor(private readonly options: AgentOptions) {
    this.logger = options.logger;
    this.stateLog = new StateLog<AgentState>('created', this.logger, 'agent.state');
    const stateDir = path.resolve(options.stateDir);
    this.launchContext = {
      node: options.node,
      host: options.host ?? os.hostname(),
      stateDir,
      workDir: path.resolve(options.workDir ?? process.cwd()),
      celeriacBin: options.celeriacBin ?? defaultCeleriacBin(),
      nodePath: options.nodePath ?? process.execPath,
      pythonPath: options.pythonPath ?? '/usr/bin/python3',
    };
    this.client = new CenterClient({
      baseUrl: options.centerUrl,
      node: options.node,
      token: options.token,
      ...(options.centerCa ? { ca: options.centerCa.pem, caSource: options.centerCa.source } : {}),
    });
    this.registry = new ChildRegistry(stateDir, this.logger);
    this.fleetLimits = new FleetLimitsPublisher(options.node, this.logger);
    this.leftovers = new Leftovers(this.registry, this.logger);
    this.lastKnownGood = new LastKnownGood(stateDir);
    this.restorer = new OwnerRestorer(this.logger);
    this.reporter = new StatusReporter({
      client: this.client,
      logger: this.logger,
      snapshot: () => this.status(),
      heartbeatMs: options.heartbeatMs ?? 5000,
      onReachability: (reachable, error) => this.setReachable(reachable, error),
    });
    this.watcher = new ConfigWatcher(path.join(stateDir, 'programs'), {
      logger: this.logger,
      debounceMs: options.watchDebounceMs ?? 100,
      onDrift: (event) => this.enqueue(() => this.applyDrift(event)),
    });
    this.poller = new ConfigPoller({
      client: this.client,
      logger: this.logger,
      waitSec: options.longPollWaitSec ?? 30,
      onConfig: (served) => this.enqueue(() => this.apply(served, 'center')),
      onReachable: (reachable, error) => this.setReachable(reachable, error),
    });
    this.supervisor = new ProgramSupervisor({
      logger: this.logger,
      stateDir,
      registry: this.registry,
      leftovers: this.leftovers,
      watcher: this.watcher,
      crashBackoff: options.crashBackoff,
      onChange: () => this.reporter.notify(),
      onExit: (exit) => this.onReplicaExit(exit),
    });
    this.probe = new WorkerProbe({
      logger: this.logger,
      targets: () => this.supervisor.probeTargets(),
      onChange: () => this.reporter.notify(),
      keyPrefix: () => this.brokerKeyPrefix,
      ...(options.workerProbeMs !== undefined ? { intervalMs: options.workerProbeMs } : {}),
    });
    if (options.metricsListen) this.metrics = new MetricsServer(options.metricsListen, () => this.metricsSnapshot());
  }

  /** The agent's state (see `AgentState`). */
  get state(): AgentState {
    return this.stateLog.value;
  }

  /** URL of the metrics server once started ('' without one). */
  get metricsUrl(): string {
    return this.metrics?.url() ?? '';
  }

  /** Subscribes to applies, drift and state changes (used by `celeriac up` and tests). */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts the agent: finds the processes a previous run left, starts the metrics server and the
   * file watcher, applies the center's config (or, when the center cannot be reached, the
   * last-known-good copy), adopting the leftovers that run exactly what it starts and stopping
   * the others warm, and starts long-polling. Throws `AgentIllegalStateError` unless the
   * agent is `created`; when it fails, the agent is `failed` and the error is thrown.
   */
  async start(): Promise<void> {
    if (this.state !== 'created') {
      throw new AgentIllegalStateError(`start() was called on a ${this.state} agent; an Agent starts once`);
    }
    this.setState('starting', 'start() called');
    try {
      await this.open();
    } catch (error) {
      await Promise.all([this.watcher.close(), this.metrics?.close(), this.restorer.close()]);
      this.setState('failed', (error as Error).message);
      throw error;
    }
    const first = await this.fetchFirstConfig();
    if (first) await this.enqueue(() => this.apply(first, 'center'));
    if (!first || (this.applyResult === 'invalid' && this.supervisor.size === 0)) {
      // Unreachable center, or an invalid config at start: run the last config that worked.
      await this.applyLastKnownGood(first ? { revision: this.attemptedRevision, message: this.message } : undefined);
    }
    // What the first config did not adopt is stopped warm, beside the programs it started.
    this.leftoversStopped = this.stopLeftovers();
    // close() may have been called while the first config was being applied.
    if (this.closing) return;
    this.setState(
      this.centerReachable ? 'running' : 'degraded',
      this.centerReachable ? 'first config handled' : 'the center is unreachable; running the config in force',
    );
    this.reporter.start();
    this.probe.start();
    this.poller.start(first?.revision ?? this.appliedRevision ?? null);
  }

  /** Stops long-polling, stops every program gracefully (TERM, then KILL after its stop timeout) and reports. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** KILLs every program's processes now, without waiting for their stop timeouts (a second SIGTERM/SIGINT). */
  kill(): void {
    this.logger.warn({ event: 'agent.kill', state: this.state }, 'killing every program process now');
    this.supervisor.killAll();
    this.leftovers.killAll();
  }

  /** The body of the next status report. */
  status(): NodeStatus {
    const status: NodeStatus = {
      applied_revision: this.appliedRevision,
      apply_result: this.applyResult,
      drift: this.supervisor.drift,
      programs: this.probe.annotate(this.supervisor.statuses()),
      agent: { pid: process.pid, started_at: this.startedAt, version: agentVersion() },
      heartbeat_ms: this.reporter.heartbeatMs,
    };
    if (this.attemptedRevision !== undefined) status.attempted_revision = this.attemptedRevision;
    if (this.message !== undefined) status.message = truncate(this.message, 4000);
    const fleetLimits = this.fleetLimits.statusRows();
    if (fleetLimits.length > 0) status.fleet_limits = fleetLimits;
    return status;
  }

  /** The state dir, leftovers of a killed predecessor, the metrics server and the file watcher. */
  private async open(): Promise<void> {
    const stateDir = this.launchContext.stateDir;
    try {
      mkdirSync(path.join(stateDir, 'programs'), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new AgentStateDirError(
        `cannot create the state dir ${stateDir} (${(error as Error).message}); pass a writable --state-dir`,
        { cause: error },
      );
    }
    this.leftovers.load();
    if (this.metrics) {
      const url = await this.metrics.start();
      this.logger.info({ event: 'agent.metrics_listening', url }, 'agent metrics listening');
    }
    await this.watcher.start();
  }

  /** Stops (warm) every leftover no program adopted, then puts back what a stopped worker still held. */
  private async stopLeftovers(): Promise<void> {
    const stopped = await this.leftovers.stopRest();
    await Promise.all(
      stopped
        .filter((c) => c.ownerId && c.brokerUrl)
        .map((c) =>
          this.restorer.restore(c.brokerUrl as string, c.ownerId as string, this.brokerKeyPrefix, this.brokerSettings),
        ),
    );
  }

  private async fetchFirstConfig(): Promise<ServedConfig | null> {
    try {
      const timeout = AbortSignal.timeout(this.options.startupFetchTimeoutMs ?? 3000);
      const first = await this.client.fetchConfig(null, 0, timeout);
      this.setReachable(true);
      return first;
    } catch (error) {
      this.setReachable(false, error as Error);
      this.logger.warn({ event: 'agent.center_unreachable_at_start', err: error }, 'center unreachable at start');
      return null;
    }
  }

  private async applyLastKnownGood(refused: { revision: number | undefined; message: string | undefined } | undefined) {
    const saved = await this.lastKnownGood.load((error) =>
      this.logger.error({ event: 'agent.last_known_good_ignored', err: error }, 'ignoring the last-known-good copy'),
    );
    if (!saved) return;
    this.logger.warn(
      { event: 'agent.last_known_good_used', revision: saved.revision },
      'starting programs from the last-known-good config',
    );
    const served = { node: this.options.node, revision: saved.revision, hash: saved.hash, config: saved.config };
    await this.enqueue(() => this.apply(served, 'last-known-good'));
    if (refused && this.applyResult === 'ok') {
      this.applyResult = 'invalid';
      this.attemptedRevision = refused.revision;
      this.message = `${refused.message}; running the last-known-good revision ${saved.revision}`;
    }
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'failed') return;
    if (this.state === 'created') {
      this.setState('stopped', 'close() before start()');
      return;
    }
    this.setState('stopping', 'close() called');
    this.reporter.notify();
    await this.poller.close();
    await this.probe.close();
    await this.watcher.close();
    await Promise.all([this.supervisor.closeAll(), this.leftoversStopped]);
    await this.chain;
    // An apply that was under way may have started programs after the first closeAll().
    await Promise.all([this.supervisor.closeAll(), this.stopLeftovers(), this.leftoversStopped]);
    this.setState('stopped', 'every program stopped');
    await this.reporter.close(this.status());
    await this.restorer.close();
    await this.fleetLimits.close();
    await this.metrics?.close();
  }

  private setState(to: AgentState, reason: string): void {
    if (this.stateLog.set(to, reason)) this.emit({ type: 'state', state: to });
  }

  private metricsSnapshot(): AgentMetrics {
    const programs: AgentMetrics['programs'] = {};
    for (const [name, s] of Object.entries(this.supervisor.statuses())) {
      programs[name] = { state: s.state, replicas: s.pids.length, restarts: s.restarts };
    }
    return {
      state: this.state,
      centerReachable: this.centerReachable,
      appliedRevision: this.appliedRevision,
      applies: this.applies,
      programs,
      ownerRestores: this.restorer.restores,
      tasksRestored: this.restorer.tasks,
      fleetLimits: this.fleetLimits.snapshot(),
      health: this.probe.taskHealth.windows,
    };
  }

  private setReachable(reachable: boolean, error?: Error): void {
    if (this.centerReachable === reachable) return;
    this.centerReachable = reachable;
    if (this.state !== 'running' && this.state !== 'degraded') return;
    if (reachable) {
      this.setState('running', 'the center answers again');
      this.reporter.notify();
    } else {
      this.setState('degraded', `${error?.message ?? 'the center is unreachable'}; programs keep running`);
    }
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step, step);
    this.chain = next.catch((error: unknown) => {
      this.logger.error({ event: 'agent.step_failed', err: error }, 'agent step failed unexpectedly');
    });
    return this.chain;
  }

  /** Validates, renders, writes and applies one config; the outcome is reported. */
  private async apply(served: ServedConfig, source: 'center' | 'last-known-good'): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const revision = served.revision;
    const log = this.logger.child({ revision, source });
    const validation = validateEffectiveConfig(served.config);
    if (!validation.ok) {
      const error = new ConfigInvalidError(validation.issues, `revision ${revision}`);
      this.refuse(revision, error.message, error, log);
      return;
    }
    const config = validation.value;
    let prepared: Map<string, PreparedProgram>;
    try {
      prepared = prepareRevision(config, this.launchContext, revision);
    } catch (error) {
      if (!(error instanceof ConfigRenderError)) throw error;
      const message = `revision ${revision} cannot be rendered and was not applied: ${error.message}`;
      this.refuse(revision, message, error, log);
      return;
    }
    const plan = this.supervisor.plan(config, prepared);
    for (const [program, change] of Object.entries(plan)) {
      if (change.action === 'none') continue;
      log.info(
        { event: 'agent.program_change', program, action: change.action, reasons: change.reasons },
        'program change',
      );
    }
    this.attemptedRevision = revision;
    this.applyResult = 'pending';
    this.message = undefined;
    this.brokerKeyPrefix = globalKeyPrefixFromSettings(config.celery);
    this.brokerSettings = config.celery;
    const fleet = await this.fleetLimits.publish(config, revision);
    const failures = await this.supervisor.apply(config, prepared, plan);
    if (fleet.error !== undefined) {
      failures.push({ program: 'fleet-limits', message: fleet.error, error: new FleetLimitsError(fleet.error) });
    }
    const summary = Object.entries(plan)
      .filter(([, change]) => change.action !== 'none')
      .map(([name, c]) => `${name}: ${c.action}${c.reasons.length ? ` (${c.reasons.join(', ')})` : ''}`)
      .concat(fleet.changed ? [`fleet limits: live (${fleet.limits.map((l) => l.id).join(', ') || 'none'})`] : [])
      .join('; ');
    if (failures.length === 0) {
      this.appliedRevision = revision;
      this.applyResult = 'ok';
      this.message = `applied revision ${revision}: ${summary || 'no program affected'}`;
      this.applies.ok = (this.applies.ok ?? 0) + 1;
      log.info({ event: 'agent.config_applied', summary: summary || 'no program affected' }, 'config applied');
      if (source === 'center') await this.lastKnownGood.save({ revision, hash: served.hash, config: served.config });
      this.emit({ type: 'applied', revision, result: 'ok', message: this.message, errors: [] });
    } else {
      this.applyResult = 'failed';
      this.message = `revision ${revision} failed to apply: ${failures.map((f) => f.message).join('; ')}`;
      this.applies.failed = (this.applies.failed ?? 0) + 1;
      const errors = failures.map((f) => f.error);
      log.error(
        {
          event: 'agent.apply_failed',
          failures: failures.map((f) => ({ program: f.program, code: f.error.code, message: f.message })),
          codes: errors.map((e) => e.code),
          err: errors[0],
        },
        'config failed to apply; the programs that could not restart keep their old processes',
      );
      this.emit({ type: 'applied', revision, result: 'failed', message: this.message, errors });
    }
    this.reporter.notify();
  }

  private refuse(revision: number, message: string, error: AgentError, log: Logger): void {
    this.attemptedRevision = revision;
    this.applyResult = 'invalid';
    this.message = message;
    this.applies.invalid = (this.applies.invalid ?? 0) + 1;
    log.error({ event: 'agent.config_refused', code: error.code, err: error }, message);
    this.emit({ type: 'applied', revision, result: 'invalid', message, errors: [error] });
    this.reporter.notify();
  }

  /** A hand edit of a program's config file: restart the program onto it and report drift. */
  private async applyDrift(event: DriftEvent): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.logger.warn(
      { event: 'agent.drift_applying', program: event.program, file: event.file },
      'applying a hand edit of a config file (drift)',
    );
    const outcome = await this.supervisor.applyDrift(event);
    if (!outcome) return;
    this.message = outcome.ok
      ? `config file of ${event.program} was edited on the host; applied and reported as drift`
      : `config file of ${event.program} was edited on the host and failed to apply: ${outcome.message}`;
    this.emit({ type: 'drift', program: event.program, ok: outcome.ok, message: this.message });
    this.reporter.notify();
  }

  private onReplicaExit(exit: ReplicaExit): void {
    const fields = {
      program: exit.program,
      replica: exit.replica,
      pid: exit.pid,
      code: exit.code,
      signal: exit.signal,
    };
    if (exit.expected) {
      this.logger.info({ event: 'program.replica_stopped', ...fields }, 'program replica stopped');
    } else {
      this.logger.warn({ event: 'program.replica_died', ...fields }, 'program replica died');
    }
    if (exit.ownerId && exit.brokerUrl) {
      void this.restorer.restore(exit.brokerUrl, exit.ownerId, this.brokerKeyPrefix, this.brokerSettings);
    }
    if (exit.ownerId && exit.brokerUrl && !exit.expected) {
      void this.fleetLimits.releaseOwner(exit.brokerUrl, exit.ownerId);
    }
    this.emit({ type: 'exit', exit });
  }

  private emit(event: AgentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ event: 'agent.listener_failed', err: error }, 'agent event listener failed');
      }
    }
  }
}
