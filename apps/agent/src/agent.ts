import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyChange, parseDuration, validateEffectiveConfig } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import { CenterClient, type ServedConfig } from './center-client.js';
import { ChildRegistry } from './child-registry.js';
import { programDir, writeFileAtomic } from './config-files.js';
import { ConfigPoller } from './config-poller.js';
import { ConfigWatcher, type DriftEvent } from './config-watcher.js';
import type { CrashBackoffOptions } from './crash-backoff.js';
import { AgentError, ConfigRenderError } from './errors.js';
import { LastKnownGood } from './last-known-good.js';
import { type AgentMetrics, MetricsServer } from './metrics-server.js';
import { OwnerRestorer } from './owner-restorer.js';
import { Program, type ProgramOutcome, type ProgramSpec, type ReplicaExit } from './program.js';
import { buildLaunch, type LaunchContext, type RenderedConfig, renderProgramConfig } from './program-launch.js';
import { StatusReporter } from './status-reporter.js';
import type { NodeConfig, NodeStatus, ProgramDefinition } from './types.js';

/** Options of an agent. */
export interface AgentOptions {
  centerUrl: string;
  node: string;
  token: string;
  stateDir: string;
  logger: Logger;
  /** `host:port` for /healthz and /metrics; port 0 picks a free one; omit for none. */
  metricsListen?: string;
  /** Host name used in worker names (`<node>.<program>.<replica>@<host>`). */
  host?: string;
  /** Directory relative app paths and commands resolve against; defaults to the current one. */
  workDir?: string;
  heartbeatMs?: number;
  longPollWaitSec?: number;
  /** How long the first config request may take before the agent starts from its last-known-good copy. */
  startupFetchTimeoutMs?: number;
  pythonPath?: string;
  nodePath?: string;
  celeriacBin?: string;
  crashBackoff?: CrashBackoffOptions;
  /** Debounce of the config file watcher. */
  watchDebounceMs?: number;
}

/** Agent life cycle; `degraded` = programs run but the center is unreachable. */
export type AgentState = 'created' | 'starting' | 'running' | 'degraded' | 'stopping' | 'stopped';

type ChangeAction = 'start' | 'restart' | 'stop' | 'scale' | 'none';

interface ProgramEntry {
  program: Program;
  /** The whole effective config the program's processes were started from. */
  applied: NodeConfig;
  rendered: RenderedConfig;
  drift: boolean;
}

const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const DEFAULT_READY_TIMEOUT_MS = 30_000;

/**
 * The supervisor of one node: long-polls the center for the node's effective config, validates
 * it, writes each program's config file atomically, restarts exactly the programs a change
 * affects (rolling), supervises their processes, puts a dead worker's tasks back, keeps a
 * last-known-good copy, watches the files for hand edits, and reports status to the center.
 */
export class Agent {
  private state: AgentState = 'created';
  private readonly client: CenterClient;
  private readonly registry: ChildRegistry;
  private readonly lastKnownGood: LastKnownGood;
  private readonly restorer: OwnerRestorer;
  private readonly reporter: StatusReporter;
  private readonly watcher: ConfigWatcher;
  private readonly poller: ConfigPoller;
  private readonly metrics: MetricsServer | undefined;
  private readonly launchContext: LaunchContext;
  private readonly programs = new Map<string, ProgramEntry>();
  private chain: Promise<void> = Promise.resolve();
  private appliedRevision: number | null = null;
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
    this.client = new CenterClient({ baseUrl: options.centerUrl, node: options.node, token: options.token });
    this.registry = new ChildRegistry(stateDir, this.logger);
    this.lastKnownGood = new LastKnownGood(stateDir);
    this.restorer = new OwnerRestorer(this.logger);
    this.reporter = new StatusReporter({
      client: this.client,
      logger: this.logger,
      snapshot: () => this.status(),
      heartbeatMs: options.heartbeatMs ?? 5000,
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
      onReachable: (reachable) => this.setReachable(reachable),
    });
    if (options.metricsListen) this.metrics = new MetricsServer(options.metricsListen, () => this.metricsSnapshot());
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
   * Starts the agent: kills leftovers of a previous run, starts the metrics server and the file
   * watcher, applies the center's config (or, when the center cannot be reached, the
   * last-known-good copy) and starts long-polling.
   */
  async start(): Promise<void> {
    if (this.state !== 'created') return;
    this.state = 'starting';
    const stateDir = this.launchContext.stateDir;
    try {
      mkdirSync(path.join(stateDir, 'programs'), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new AgentError(
        'AGENT_STATE_DIR',
        `cannot create the state dir ${stateDir} (${(error as Error).message}); pass a writable --state-dir`,
      );
    }
    const leftovers = await this.registry.reapLeftovers();
    await Promise.all(
      leftovers
        .filter((c) => c.ownerId && c.brokerUrl)
        .map((c) => this.restorer.restore(c.brokerUrl as string, c.ownerId as string)),
    );
    if (this.metrics) {
      const url = await this.metrics.start();
      this.logger.info({ url }, 'agent metrics listening');
    }
    await this.watcher.start();
    let first: ServedConfig | null = null;
    try {
      first = await this.client.fetchConfig(null, 0, AbortSignal.timeout(this.options.startupFetchTimeoutMs ?? 3000));
      this.setReachable(true);
    } catch (error) {
      this.setReachable(false);
      this.logger.warn({ err: (error as Error).message }, 'center unreachable at start');
    }
    if (first) await this.enqueue(() => this.apply(first, 'center'));
    if (!first || (this.applyResult === 'invalid' && this.programs.size === 0)) {
      // Unreachable center, or an invalid config at start: run the last config that worked.
      const refused = first ? { revision: this.attemptedRevision, message: this.message } : undefined;
      const saved = await this.lastKnownGood.load((error) =>
        this.logger.error({ err: error.message }, 'ignoring the last-known-good copy'),
      );
      if (saved) {
        this.logger.warn({ revision: saved.revision }, 'starting programs from the last-known-good config');
        await this.enqueue(() =>
          this.apply(
            { node: this.options.node, revision: saved.revision, hash: saved.hash, config: saved.config },
            'last-known-good',
          ),
        );
        if (refused && this.applyResult === 'ok') {
          this.applyResult = 'invalid';
          this.attemptedRevision = refused.revision;
          this.message = `${refused.message}; running the last-known-good revision ${saved.revision}`;
        }
      }
    }
    // close() may have been called while the first config was being applied.
    if (this.closing) return;
    this.state = this.centerReachable ? 'running' : 'degraded';
    this.reporter.start();
    this.poller.start(first?.revision ?? this.appliedRevision ?? null);
    this.emit({ type: 'state', state: this.state });
  }

  /** Stops long-polling, stops every program gracefully (TERM, then KILL after its stop timeout) and reports. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** KILLs every program's processes now, without waiting for their stop timeouts (a second SIGTERM/SIGINT). */
  kill(): void {
    this.logger.warn('killing every program process now');
    for (const entry of this.programs.values()) entry.program.killAll();
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.emit({ type: 'state', state: this.state });
    this.reporter.notify();
    await this.poller.close();
    await this.watcher.close();
    await Promise.all([...this.programs.values()].map((e) => e.program.close()));
    await this.chain;
    await Promise.all([...this.programs.values()].map((e) => e.program.close()));
    this.state = 'stopped';
    await this.reporter.close(this.status());
    await this.restorer.close();
    await this.metrics?.close();
    this.emit({ type: 'state', state: this.state });
  }

  /** The body of the next status report. */
  status(): NodeStatus {
    const programs: NodeStatus['programs'] = {};
    for (const [name, entry] of this.programs) programs[name] = entry.program.status();
    const status: NodeStatus = {
      applied_revision: this.appliedRevision,
      apply_result: this.applyResult,
      drift: [...this.programs.values()].some((e) => e.drift),
      programs,
      agent: { pid: process.pid, started_at: this.startedAt, version: agentVersion() },
    };
    if (this.attemptedRevision !== undefined) status.attempted_revision = this.attemptedRevision;
    if (this.message !== undefined) status.message = truncate(this.message, 4000);
    return status;
  }

  /** Agent state (see `AgentState`). */
  get currentState(): AgentState {
    return this.state;
  }

  private metricsSnapshot(): AgentMetrics {
    const programs: AgentMetrics['programs'] = {};
    for (const [name, entry] of this.programs) {
      const s = entry.program.status();
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
    };
  }

  private setReachable(reachable: boolean): void {
    if (this.centerReachable === reachable) return;
    this.centerReachable = reachable;
    if (this.state === 'running' || this.state === 'degraded') {
      this.state = reachable ? 'running' : 'degraded';
      this.logger[reachable ? 'info' : 'warn'](
        reachable ? 'center reachable again' : 'center unreachable; programs keep running on the config in force',
      );
      this.emit({ type: 'state', state: this.state });
      if (reachable) this.reporter.notify();
    }
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.chain.then(step, step);
    this.chain = next.catch((error: unknown) => {
      this.logger.error({ err: error }, 'agent step failed unexpectedly');
    });
    return this.chain;
  }

  private changed(): void {
    this.reporter.notify();
  }

  /** Validates, renders, writes and applies one config; the outcome is reported. */
  private async apply(served: ServedConfig, source: 'center' | 'last-known-good'): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const revision = served.revision;
    const log = this.logger.child({ revision, source });
    const validation = validateEffectiveConfig(served.config);
    if (!validation.ok) {
      const problems = validation.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
      this.refuse(revision, `revision ${revision} is invalid and was not applied: ${problems}`, log);
      return;
    }
    const config = validation.value as unknown as NodeConfig;
    const specs = new Map<string, { spec: ProgramSpec; rendered: RenderedConfig }>();
    try {
      for (const [name, def] of Object.entries(config.programs ?? {})) {
        specs.set(name, this.buildSpec(name, def, config, revision));
      }
    } catch (error) {
      if (!(error instanceof ConfigRenderError) && !(error instanceof AgentError)) throw error;
      this.refuse(revision, `revision ${revision} cannot be rendered and was not applied: ${error.message}`, log);
      return;
    }

    const plan = new Map<string, { action: ChangeAction; reasons: string[] }>();
    for (const name of new Set([...this.programs.keys(), ...specs.keys()])) {
      const entry = this.programs.get(name);
      const classified = classifyChange(
        (entry?.applied ?? null) as Parameters<typeof classifyChange>[0],
        config as unknown as Parameters<typeof classifyChange>[1],
      )[name] ?? { action: specs.has(name) ? (entry ? 'none' : 'start') : 'stop', reasons: [] };
      let { action } = classified;
      const reasons = [...classified.reasons];
      const next = specs.get(name);
      if (action === 'none' && entry && next) {
        if (entry.drift && entry.rendered.hash !== next.rendered.hash) {
          action = 'restart';
          reasons.push('config file had been edited on the host; the center config replaces it');
        } else if (entry.program.state() === 'fatal') {
          action = 'restart';
          reasons.push('program was FATAL; a new revision gives it another start');
        }
      }
      if (action === 'none' && !entry && next) action = 'start';
      plan.set(name, { action: action as ChangeAction, reasons });
    }
    for (const [name, p] of plan) {
      if (p.action !== 'none') log.info({ program: name, action: p.action, reasons: p.reasons }, 'program change');
    }

    for (const [name, { rendered }] of specs) {
      await this.writeConfig(name, rendered);
    }

    this.attemptedRevision = revision;
    this.applyResult = 'pending';
    this.message = undefined;
    this.changed();

    const failures: string[] = [];
    await Promise.all(
      [...plan].map(async ([name, p]) => {
        const outcome = await this.execute(name, p.action, specs.get(name), config);
        if (!outcome.ok) failures.push(outcome.message ?? `${name} failed`);
      }),
    );

    const summary = [...plan]
      .filter(([, p]) => p.action !== 'none')
      .map(([name, p]) => `${name}: ${p.action}${p.reasons.length ? ` (${p.reasons.join(', ')})` : ''}`)
      .join('; ');
    if (failures.length === 0) {
      this.appliedRevision = revision;
      this.applyResult = 'ok';
      this.message = summary
        ? `applied revision ${revision}: ${summary}`
        : `applied revision ${revision}: no program affected`;
      this.applies.ok = (this.applies.ok ?? 0) + 1;
      log.info({ summary: summary || 'no program affected' }, 'config applied');
      if (source === 'center') await this.lastKnownGood.save({ revision, hash: served.hash, config: served.config });
      this.emit({ type: 'applied', revision, result: 'ok', message: this.message });
    } else {
      this.applyResult = 'failed';
      this.message = `revision ${revision} failed to apply: ${failures.join('; ')}`;
      this.applies.failed = (this.applies.failed ?? 0) + 1;
      log.error({ failures }, 'config failed to apply; the programs that could not restart keep their old processes');
      this.emit({ type: 'applied', revision, result: 'failed', message: this.message });
    }
    this.changed();
  }

  private refuse(revision: number, message: string, log: Logger): void {
    this.attemptedRevision = revision;
    this.applyResult = 'invalid';
    this.message = message;
    this.applies.invalid = (this.applies.invalid ?? 0) + 1;
    log.error(message);
    this.emit({ type: 'applied', revision, result: 'invalid', message });
    this.changed();
  }

  private async execute(
    name: string,
    action: ChangeAction,
    next: { spec: ProgramSpec; rendered: RenderedConfig } | undefined,
    config: NodeConfig,
  ): Promise<ProgramOutcome> {
    const entry = this.programs.get(name);
    if (action === 'stop' || !next) {
      if (!entry) return { ok: true };
      this.programs.delete(name);
      this.watcher.forget(entry.rendered.file);
      await entry.program.close();
      this.changed();
      return { ok: true };
    }
    if (!entry) {
      const program = new Program(next.spec, this.programDeps());
      this.programs.set(name, { program, applied: config, rendered: next.rendered, drift: false });
      return program.start();
    }
    if (action === 'none') {
      entry.program.adopt(next.spec);
      entry.applied = config;
      entry.rendered = next.rendered;
      return { ok: true };
    }
    if (action === 'scale') {
      const outcome = await entry.program.scale(next.spec);
      entry.applied = config;
      entry.rendered = next.rendered;
      return outcome;
    }
    if (action === 'start' && entry.program.pids().length === 0) {
      entry.program.adopt(next.spec);
      entry.applied = config;
      entry.rendered = next.rendered;
      entry.drift = false;
      return entry.program.start();
    }
    const outcome = await entry.program.rollingRestart(next.spec);
    if (outcome.ok) {
      entry.applied = config;
      entry.rendered = next.rendered;
      entry.drift = false;
    } else {
      // The old processes keep running: put their config file back so that disk matches them.
      await this.writeConfig(name, entry.rendered);
    }
    return outcome;
  }

  /** A hand edit of a program's config file: restart the program onto it and report drift. */
  private async applyDrift(event: DriftEvent): Promise<void> {
    const entry = this.programs.get(event.program);
    if (!entry || this.state === 'stopping' || this.state === 'stopped') return;
    entry.drift = true;
    const spec = { ...entry.program.currentSpec, configHash: event.hash };
    this.logger.warn({ program: event.program, file: event.file }, 'applying a hand edit of a config file (drift)');
    this.changed();
    const outcome = await entry.program.rollingRestart(spec);
    // The processes now run on the edited file: the next revision compares against it.
    if (outcome.ok) entry.rendered = { file: event.file, content: event.content, hash: event.hash };
    this.message = outcome.ok
      ? `config file of ${event.program} was edited on the host; applied and reported as drift`
      : `config file of ${event.program} was edited on the host and failed to apply: ${outcome.message}`;
    this.emit({ type: 'drift', program: event.program, ok: outcome.ok, message: this.message });
    this.changed();
  }

  private async writeConfig(name: string, rendered: RenderedConfig): Promise<void> {
    mkdirSync(programDir(this.launchContext.stateDir, name), { recursive: true, mode: 0o700 });
    this.watcher.expect(name, rendered.file, rendered.hash);
    await writeFileAtomic(rendered.file, rendered.content);
  }

  private buildSpec(
    name: string,
    def: ProgramDefinition,
    config: NodeConfig,
    revision: number,
  ): { spec: ProgramSpec; rendered: RenderedConfig } {
    const ctx = this.launchContext;
    const rendered = renderProgramConfig(name, def, config, ctx, revision);
    // Render every replica's command line now so that a template error refuses the revision.
    buildLaunch(name, def, 1, config, ctx);
    const brokerUrl = typeof config.celery?.broker_url === 'string' ? config.celery.broker_url : undefined;
    const spec: ProgramSpec = {
      name,
      definition: def,
      replicas: def.replicas ?? 1,
      stopTimeoutMs: durationMs(def.stop_timeout, DEFAULT_STOP_TIMEOUT_MS),
      readyTimeoutMs: durationMs(def.ready_timeout, DEFAULT_READY_TIMEOUT_MS),
      configHash: rendered.hash,
      launch: (replica, generation) => buildLaunch(name, def, replica, config, ctx, generation),
    };
    if (brokerUrl) spec.brokerUrl = brokerUrl;
    return { spec, rendered };
  }

  private programDeps() {
    return {
      logger: this.logger,
      registry: this.registry,
      crashBackoff: this.options.crashBackoff,
      onChange: () => this.changed(),
      onExit: (exit: ReplicaExit) => this.onReplicaExit(exit),
    };
  }

  private onReplicaExit(exit: ReplicaExit): void {
    const level = exit.expected ? 'info' : 'warn';
    this.logger[level](
      { program: exit.program, replica: exit.replica, pid: exit.pid, code: exit.code, signal: exit.signal },
      exit.expected ? 'program replica stopped' : 'program replica died',
    );
    if (exit.ownerId && exit.brokerUrl) void this.restorer.restore(exit.brokerUrl, exit.ownerId);
    this.emit({ type: 'exit', exit });
  }

  private emit(event: AgentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error }, 'agent event listener failed');
      }
    }
  }
}

/** What an agent tells its listeners. */
export type AgentEvent =
  | { type: 'state'; state: AgentState }
  | { type: 'applied'; revision: number; result: 'ok' | 'failed' | 'invalid'; message: string }
  | { type: 'drift'; program: string; ok: boolean; message: string }
  | { type: 'exit'; exit: ReplicaExit };

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function durationMs(value: string | number | undefined, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value);
}

function defaultCeleriacBin(): string {
  return fileURLToPath(new URL('../../cli/bin/celeriac.js', import.meta.url));
}

let version: string | undefined;
function agentVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
      version = pkg.version ?? '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
