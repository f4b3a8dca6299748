import {
  type LastExit,
  type ProgramState,
  type ProgramStatus,
  WORKER_RECYCLE_EXIT_CODE,
} from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { ChildRegistry } from './child-registry.js';
import { CrashBackoff, type CrashBackoffOptions } from './crash-backoff.js';
import { ProgramSpawnError } from './errors.js';
import { type Leftovers, launchFingerprint } from './leftovers.js';
import { processStartTicks } from './process-group.js';
import type { ProgramSpec } from './program-spec.js';
import { waitForReadiness } from './readiness.js';
import {
  adoptReplica,
  combineOutcomes,
  type ProgramOutcome,
  Replica,
  type ReplicaExit,
  type ReplicaRole,
  spawnReplica,
} from './replica.js';
import { StateLog } from './state-log.js';

export type { ProgramSpec } from './program-spec.js';
export type { ProgramOutcome, ReplicaExit } from './replica.js';

/** Dependencies of a program, shared by all programs of an agent. */
export interface ProgramDeps {
  logger: Logger;
  registry: ChildRegistry;
  onExit(exit: ReplicaExit): void;
  onChange(): void;
  crashBackoff?: CrashBackoffOptions;
  /** Processes of a previous agent run: a replica that runs exactly what it would start is adopted. */
  leftovers?: Leftovers;
}

/** How long a process that missed its ready timeout is still watched for readiness. */
const LATE_READY_WATCH_MS = 10 * 60_000;

interface Slot {
  current?: Replica;
  backoff: CrashBackoff;
  timer?: NodeJS.Timeout;
  fatal: boolean;
  /** Set while a rolling restart replaces this slot: crash handling stays out of its way. */
  busy: boolean;
}

/**
 * One supervised program: N replica slots, each with a process in its own process group. Starts,
 * scales, restarts (rolling: new process ready before the old one is stopped) and stops them.
 *
 * States (`state`, the worst of the slots; every change logged as `program.state`):
 * `starting` (a process is not ready yet), `running`, `backoff` (a crashed replica waits for its
 * restart), `stopping` (old or removed processes are being stopped), `stopped` (no process) and
 * `fatal` (a replica failed too often in a row; restarted only by the next config change).
 */
export class Program {
  private spec: ProgramSpec;
  private readonly slots = new Map<number, Slot>();
  private readonly draining = new Set<Replica>();
  private readonly all = new Set<Replica>();
  private readonly stateLog: StateLog<ProgramState>;
  private readonly log: Logger;
  private restarts = 0;
  private generation = 0;
  private lastExit: LastExit | null = null;
  private stopping = false;
  private closed = false;

  constructor(
    spec: ProgramSpec,
    private readonly deps: ProgramDeps,
  ) {
    this.spec = spec;
    this.log = deps.logger;
    this.stateLog = new StateLog<ProgramState>('stopped', deps.logger, 'program.state', { program: spec.name });
  }

  get name(): string {
    return this.spec.name;
  }

  get currentSpec(): ProgramSpec {
    return this.spec;
  }

  /** Aggregate state: the worst of the slots (see the class comment). */
  get state(): ProgramState {
    const slots = [...this.slots.values()];
    if (slots.some((s) => s.fatal)) return 'fatal';
    if (slots.some((s) => s.timer !== undefined)) return 'backoff';
    if (slots.some((s) => s.current?.state === 'starting')) return 'starting';
    if (this.draining.size > 0 || slots.some((s) => s.current?.state === 'stopping')) return 'stopping';
    if (slots.some((s) => s.current && !s.current.hasExited())) return 'running';
    return 'stopped';
  }

  /** The live replicas that currently serve the program (not the ones being drained), by slot. */
  serving(): Replica[] {
    const keys = [...this.slots.keys()].sort((a, b) => a - b);
    return keys.map((i) => this.slots.get(i)?.current).filter((r): r is Replica => r !== undefined && !r.hasExited());
  }

  /** Pids of the replicas that currently serve the program. */
  pids(): number[] {
    return this.serving().map((replica) => replica.pid);
  }

  /** Starts every replica and waits until each is ready (or its ready timeout passed). */
  async start(): Promise<ProgramOutcome> {
    this.stopping = false;
    const results = await Promise.all(Array.from({ length: this.spec.replicas }, (_, i) => this.startSlot(i + 1)));
    return combineOutcomes(results);
  }

  /** Adopts a new spec without touching the processes (the change does not affect them). */
  adopt(spec: ProgramSpec): void {
    this.spec = spec;
  }

  /**
   * Rolling restart onto `spec`: a new process for every replica first, and once all of them are
   * ready the old ones get stopped (warm). Capacity never drops and the change takes one start-up
   * time, not one per replica. If any new process is not ready in time, all new ones are killed,
   * every old process keeps running, the previous spec stays, and the outcome says why.
   */
  async rollingRestart(spec: ProgramSpec): Promise<ProgramOutcome> {
    const previous = this.spec;
    this.spec = spec;
    this.stopping = false;
    const indexes = Array.from({ length: spec.replicas }, (_, i) => i + 1);
    const slots = indexes.map((index) => this.slot(index));
    for (const slot of slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.busy = true;
    }
    try {
      const fresh: Replica[] = [];
      let failure: ProgramOutcome | undefined;
      for (const index of indexes) {
        const spawned = this.spawn(index, 'candidate');
        if (!(spawned instanceof Replica)) {
          failure = spawned;
          break;
        }
        fresh.push(spawned);
      }
      this.changed('rolling restart: new processes started');
      if (!failure) {
        const outcome = combineOutcomes(await Promise.all(fresh.map((replica) => this.awaitReady(replica))));
        if (!outcome.ok) failure = outcome;
      }
      if (failure) {
        await Promise.all(fresh.map((replica) => replica.stop(0, this.log)));
        this.spec = previous;
        this.changed('rolling restart failed; the old processes keep running');
        return failure;
      }
      for (const [k, replica] of fresh.entries()) this.promote(slots[k] as Slot, replica);
    } finally {
      for (const slot of slots) slot.busy = false;
    }
    await this.stopSlotsAbove(spec.replicas);
    this.changed('rolling restart done');
    return { ok: true };
  }

  /** Changes the number of replicas: starts the missing slots, stops the ones above the count. */
  async scale(spec: ProgramSpec): Promise<ProgramOutcome> {
    this.spec = spec;
    this.stopping = false;
    const starts: Promise<ProgramOutcome>[] = [];
    for (let index = 1; index <= spec.replicas; index++) {
      const slot = this.slots.get(index);
      if (!slot?.current && !slot?.timer) starts.push(this.startSlot(index));
    }
    const [results] = await Promise.all([Promise.all(starts), this.stopSlotsAbove(spec.replicas)]);
    return combineOutcomes(results);
  }

  /** Stops every process: TERM, then KILL of the whole group after the stop timeout. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots.values()) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    const stops = [...this.all].map((replica) => this.stopReplica(replica));
    this.slots.clear();
    this.changed('stopping every process');
    await Promise.all(stops);
    this.changed('every process stopped');
  }

  /** KILLs the process group of every process at once (a second Ctrl-C); stop() still settles. */
  killAll(): void {
    for (const replica of this.all) replica.kill();
  }

  /** Stops and forgets the program for good. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    this.closed = true;
  }

  /** The program's entry of the node status. */
  status(): ProgramStatus {
    return {
      kind: this.spec.definition.kind,
      state: this.state,
      pids: this.pids(),
      restarts: this.restarts,
      config_hash: this.spec.configHash,
      last_exit: this.lastExit,
    };
  }

  /** Logs a state transition (when there is one) and tells the agent something changed. */
  private changed(reason: string): void {
    this.stateLog.set(this.state, reason);
    this.deps.onChange();
  }

  private slot(index: number): Slot {
    let slot = this.slots.get(index);
    if (!slot) {
      slot = { backoff: new CrashBackoff(this.deps.crashBackoff), fatal: false, busy: false };
      this.slots.set(index, slot);
    }
    return slot;
  }

  private async startSlot(index: number): Promise<ProgramOutcome> {
    const slot = this.slot(index);
    slot.fatal = false;
    slot.backoff.reset();
    const replica = this.adoptLeftover(index) ?? this.spawn(index, 'current');
    if (!(replica instanceof Replica)) {
      // Like a crash loop: FATAL until the next config change gives it another start.
      slot.fatal = true;
      this.changed(`replica ${index} could not be started`);
      return replica;
    }
    slot.current = replica;
    slot.backoff.started();
    this.changed(`replica ${index} started`);
    const ready = await this.awaitReady(replica);
    if (!ready.ok) this.keepWatching(replica);
    return ready;
  }

  /**
   * A process that is the only one of its slot stays even when it was not ready in time (there is
   * nothing older to fall back to); its state turns to running if it gets ready later.
   */
  private keepWatching(replica: Replica): void {
    if (replica.hasExited() || replica.state !== 'starting') return;
    void waitForReadiness(replica, replica.launch.readiness, { timeoutMs: LATE_READY_WATCH_MS }).then((result) => {
      if (result.ready && replica.state === 'starting') {
        replica.state = 'running';
        this.deps.registry.update(replica.pid, { ready: true });
        this.log.info(
          { event: 'program.replica_ready', ...replica.logFields, late: true },
          'program replica ready (late)',
        );
        this.changed(`replica ${replica.index} got ready late`);
      }
    });
  }

  /** Makes a ready candidate the slot's process and drains the one it replaces. */
  private promote(slot: Slot, fresh: Replica): void {
    const old = slot.current;
    fresh.role = 'current';
    slot.current = fresh;
    slot.fatal = false;
    slot.backoff.reset();
    slot.backoff.started();
    if (old && !old.hasExited()) {
      old.role = 'draining';
      this.draining.add(old);
      void this.stopReplica(old).finally(() => {
        this.draining.delete(old);
        this.changed(`old replica ${old.index} (pid ${old.pid}) stopped`);
      });
    }
  }

  private async stopSlotsAbove(count: number): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [index, slot] of this.slots) {
      if (index <= count) continue;
      if (slot.timer) clearTimeout(slot.timer);
      this.slots.delete(index);
      if (slot.current) stops.push(this.stopReplica(slot.current));
    }
    this.changed(`scaled to ${count} replicas`);
    await Promise.all(stops);
  }

  private stopReplica(replica: Replica): Promise<void> {
    return replica.stop(this.spec.stopTimeoutMs, this.log);
  }

  private async awaitReady(replica: Replica): Promise<ProgramOutcome> {
    const outcome = await replica.awaitReady(this.spec.readyTimeoutMs);
    if (outcome.ok) {
      this.deps.registry.update(replica.pid, { ready: true });
      this.log.info({ event: 'program.replica_ready', ...replica.logFields }, 'program replica ready');
      this.changed(`replica ${replica.index} ready`);
    } else {
      this.log.warn({ event: 'program.replica_not_ready', ...replica.logFields, err: outcome.error }, outcome.message);
    }
    return outcome;
  }

  /**
   * Takes over the process a previous agent run left for slot `index` when it runs this very
   * config and command line (no restart at all); undefined when there is none.
   */
  private adoptLeftover(index: number): Replica | undefined {
    const spec = this.spec;
    const record = this.deps.leftovers?.claim(this.name, index, spec.configHash, (g) => spec.launch(index, g));
    if (!record) return undefined;
    const generation = record.generation ?? 1;
    this.generation = Math.max(this.generation, generation);
    const replica = adoptReplica({ program: this.name, index, launch: spec.launch(index, generation), record });
    this.all.add(replica);
    this.log.info(
      { event: 'program.replica_adopted', ...replica.logFields, generation, ready: replica.state === 'running' },
      'program replica of a previous agent run adopted; it keeps running',
    );
    void replica.exited.then((info) => this.onExit(replica, info));
    return replica;
  }

  /** Starts a process for slot `index`; a failure to start comes back as the outcome. */
  private spawn(index: number, role: ReplicaRole): Replica | ProgramOutcome {
    this.generation += 1;
    const kind = this.spec.definition.kind;
    const launch = this.spec.launch(index, this.generation);
    let replica: Replica;
    try {
      replica = spawnReplica({
        program: this.name,
        index,
        role,
        launch,
        recordsOwner: kind === 'celeriac-worker',
        brokerUrl: this.spec.brokerUrl,
      });
    } catch (error) {
      if (!(error instanceof ProgramSpawnError)) throw error;
      this.log.error({ event: 'program.spawn_failed', program: this.name, replica: index, err: error }, error.message);
      return { ok: false, message: error.message, error };
    }
    this.all.add(replica);
    this.deps.registry.add({
      program: this.name,
      kind,
      replica: index,
      pid: replica.pid,
      pgid: replica.pid,
      startTicks: processStartTicks(replica.pid) ?? '',
      ownerId: replica.ownerId,
      brokerUrl: replica.brokerUrl,
      configHash: this.spec.configHash,
      launchHash: launchFingerprint(launch),
      generation: this.generation,
      stopTimeoutMs: this.spec.stopTimeoutMs,
    });
    this.log.info(
      { event: 'program.replica_started', ...replica.logFields, role, log: replica.launch.logFile },
      'program replica started',
    );
    void replica.exited.then((info) => this.onExit(replica, info));
    return replica;
  }

  private onExit(replica: Replica, info: LastExit): void {
    this.all.delete(replica);
    this.deps.registry.remove(replica.pid);
    // Whatever the leader left in its group goes with it.
    replica.kill();
    this.lastExit = info;
    const expected = replica.role !== 'current' || this.stopping || this.closed;
    // A celeriac worker that stopped warm to be replaced (worker_max_tasks_per_child / _memory_):
    // not a crash, its successor starts at once.
    const recycled =
      !expected && this.spec.definition.kind === 'celeriac-worker' && info.code === WORKER_RECYCLE_EXIT_CODE;
    this.deps.onExit({
      program: this.name,
      kind: this.spec.definition.kind,
      replica: replica.index,
      pid: replica.pid,
      code: info.code,
      signal: info.signal,
      expected: expected || recycled,
      ownerId: replica.ownerId,
      brokerUrl: replica.brokerUrl,
    });
    const slot = this.slots.get(replica.index);
    const why = `replica ${replica.index} (pid ${replica.pid}) exited (${info.signal ?? `code ${info.code}`})`;
    if (expected || !slot || slot.current !== replica) {
      this.changed(why);
      return;
    }
    slot.current = undefined;
    const fields = { ...replica.logFields, code: info.code, signal: info.signal };
    if (slot.busy) {
      this.log.warn(
        { event: 'program.replica_exited_during_restart', ...fields },
        'program replica exited during a rolling restart',
      );
      this.changed(why);
      return;
    }
    if (recycled) {
      this.log.info(
        { event: 'program.replica_recycled', ...fields },
        'program replica stopped to be recycled (worker_max_tasks_per_child / worker_max_memory_per_child); starting its successor now',
      );
      this.changed(`${why}; recycled, starting its successor`);
      void this.restartCrashed(replica.index, slot, 'recycled');
      return;
    }
    const decision = slot.backoff.exited();
    if (decision.action === 'fatal') {
      slot.fatal = true;
      this.log.error(
        { event: 'program.fatal', ...fields, failures: decision.quickFailures },
        'program replica failed too often in a row; FATAL, not restarting it until the next config change',
      );
      this.changed(`${why}; ${decision.quickFailures} quick failures in a row`);
      return;
    }
    this.log.warn(
      { event: 'program.replica_crashed', ...fields, restart_in_ms: decision.delayMs },
      'program replica exited unexpectedly',
    );
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.stopping || this.slots.get(replica.index) !== slot) return;
      this.restarts += 1;
      void this.restartCrashed(replica.index, slot);
    }, decision.delayMs);
    this.changed(`${why}; restarting it in ${decision.delayMs} ms`);
  }

  private async restartCrashed(index: number, slot: Slot, why: 'crash' | 'recycled' = 'crash'): Promise<void> {
    const replica = this.spawn(index, 'current');
    if (!(replica instanceof Replica)) {
      slot.fatal = true;
      this.changed(`replica ${index} could not be restarted`);
      return;
    }
    slot.current = replica;
    slot.backoff.started();
    this.changed(
      why === 'crash' ? `replica ${index} restarted after a crash` : `replica ${index} replaced after a recycle`,
    );
    if (!(await this.awaitReady(replica)).ok) this.keepWatching(replica);
  }
}
