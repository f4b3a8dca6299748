import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@celeriac/logger';
import { execa } from 'execa';
import type { ChildRegistry } from './child-registry.js';
import { CrashBackoff, type CrashBackoffOptions } from './crash-backoff.js';
import { processStartTicks, signalGroup, signalProcess } from './process-group.js';
import type { Launch } from './program-launch.js';
import { waitForReadiness } from './readiness.js';
import type { LastExit, ProgramDefinition, ProgramKind, ProgramState, ProgramStatus } from './types.js';

/** What a program runs with: its definition, durations, config hash and how to launch a replica. */
export interface ProgramSpec {
  name: string;
  definition: ProgramDefinition;
  replicas: number;
  stopTimeoutMs: number;
  readyTimeoutMs: number;
  configHash: string;
  /** Broker URL whose held-task records a dead worker's tasks are restored from. */
  brokerUrl?: string;
  /** `generation` counts the processes this program started (1, 2, ...), for names that must differ per process. */
  launch(replica: number, generation: number): Launch;
}

/** Told about every exit of a replica (expected or not), so that its held tasks can be put back. */
export interface ReplicaExit {
  program: string;
  kind: ProgramKind;
  replica: number;
  pid: number;
  code: number | null;
  signal: string | null;
  expected: boolean;
  ownerId?: string;
  brokerUrl?: string;
}

/** Dependencies of a program, shared by all programs of an agent. */
export interface ProgramDeps {
  logger: Logger;
  registry: ChildRegistry;
  onExit(exit: ReplicaExit): void;
  onChange(): void;
  crashBackoff?: CrashBackoffOptions;
}

/** Result of an operation on a program. */
export interface ProgramOutcome {
  ok: boolean;
  message?: string;
}

type ReplicaRole = 'candidate' | 'current' | 'draining';

/** How long a process that missed its ready timeout is still watched for readiness. */
const LATE_READY_WATCH_MS = 10 * 60_000;

class Replica {
  state: 'starting' | 'running' | 'stopping' | 'exited' = 'starting';
  exitInfo: LastExit | null = null;
  stopPromise: Promise<void> | undefined;
  readonly exited: Promise<LastExit>;
  constructor(
    readonly index: number,
    readonly pid: number,
    readonly startedAt: number,
    public role: ReplicaRole,
    readonly ownerId: string | undefined,
    readonly brokerUrl: string | undefined,
    readonly launch: Launch,
    exited: Promise<LastExit>,
  ) {
    this.exited = exited;
  }
  hasExited(): boolean {
    return this.exitInfo !== null;
  }
}

interface Slot {
  current?: Replica;
  backoff: CrashBackoff;
  timer?: NodeJS.Timeout;
  fatal: boolean;
  /** Set while a rolling restart replaces this slot: crash handling stays out of its way. */
  busy: boolean;
}

/**
 * One supervised program: N replica slots, each with a process in its own process group.
 * Starts, scales, restarts (rolling: new process ready before the old one is stopped) and stops
 * them, and restarts crashed ones with backoff until FATAL.
 */
export class Program {
  private spec: ProgramSpec;
  private readonly slots = new Map<number, Slot>();
  private readonly draining = new Set<Replica>();
  private readonly all = new Set<Replica>();
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
  }

  get name(): string {
    return this.spec.name;
  }

  get currentSpec(): ProgramSpec {
    return this.spec;
  }

  /** Pids of the replicas that currently serve the program (not the ones being drained). */
  pids(): number[] {
    const pids: number[] = [];
    for (const index of [...this.slots.keys()].sort((a, b) => a - b)) {
      const replica = this.slots.get(index)?.current;
      if (replica && !replica.hasExited()) pids.push(replica.pid);
    }
    return pids;
  }

  /** Starts every replica and waits until each is ready (or its ready timeout passed). */
  async start(): Promise<ProgramOutcome> {
    this.stopping = false;
    const results = await Promise.all(Array.from({ length: this.spec.replicas }, (_, i) => this.startSlot(i + 1)));
    return combine(results);
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
        try {
          fresh.push(this.spawn(index, 'candidate'));
        } catch (error) {
          failure = { ok: false, message: (error as Error).message };
          break;
        }
      }
      this.deps.onChange();
      if (!failure) {
        const outcome = combine(await Promise.all(fresh.map((replica) => this.awaitReady(replica))));
        if (!outcome.ok) failure = outcome;
      }
      if (failure) {
        await Promise.all(fresh.map((replica) => this.stopReplica(replica, 0)));
        this.spec = previous;
        return failure;
      }
      for (const [k, replica] of fresh.entries()) this.promote(slots[k] as Slot, replica);
    } finally {
      for (const slot of slots) slot.busy = false;
    }
    await this.stopSlotsAbove(spec.replicas);
    this.deps.onChange();
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
    return combine(results);
  }

  /** Stops every process: TERM, then KILL of the whole group after the stop timeout. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    const stops: Promise<void>[] = [];
    for (const slot of this.slots.values()) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    for (const replica of this.all) stops.push(this.stopReplica(replica));
    this.slots.clear();
    this.deps.onChange();
    await Promise.all(stops);
    this.deps.onChange();
  }

  /** KILLs the process group of every process at once (a second Ctrl-C); stop() still settles. */
  killAll(): void {
    for (const replica of this.all) signalGroup(replica.pid, 'SIGKILL');
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
      state: this.state(),
      pids: this.pids(),
      restarts: this.restarts,
      config_hash: this.spec.configHash,
      last_exit: this.lastExit,
    };
  }

  /** Aggregate state: the worst of the slots. */
  state(): ProgramState {
    const slots = [...this.slots.values()];
    if (slots.some((s) => s.fatal)) return 'fatal';
    if (slots.some((s) => s.timer !== undefined)) return 'backoff';
    if (slots.some((s) => s.current?.state === 'starting')) return 'starting';
    if (this.draining.size > 0 || slots.some((s) => s.current?.state === 'stopping')) return 'stopping';
    if (slots.some((s) => s.current && !s.current.hasExited())) return 'running';
    return 'stopped';
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
    let replica: Replica;
    try {
      replica = this.spawn(index, 'current');
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
    slot.current = replica;
    slot.backoff.started();
    this.deps.onChange();
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
        this.deps.logger.info(
          { program: this.name, replica: replica.index, pid: replica.pid },
          'program replica ready (late)',
        );
        this.deps.onChange();
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
        this.deps.onChange();
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
    this.deps.onChange();
    await Promise.all(stops);
  }

  private async awaitReady(replica: Replica): Promise<ProgramOutcome> {
    const launch = replica.launch;
    const result = await waitForReadiness(replica, launch.readiness, {
      timeoutMs: this.spec.readyTimeoutMs,
      logOffset: this.logOffsets.get(replica.pid) ?? 0,
    });
    this.logOffsets.delete(replica.pid);
    if (result.ready) {
      if (replica.state === 'starting') replica.state = 'running';
      this.deps.logger.info({ program: this.name, replica: replica.index, pid: replica.pid }, 'program replica ready');
      this.deps.onChange();
      return { ok: true };
    }
    const why =
      result.reason === 'exited'
        ? `exited (${describeExit(replica.exitInfo)}) before it was ready`
        : `was not ready within ${this.spec.readyTimeoutMs} ms`;
    const message = `${this.name} replica ${replica.index} (pid ${replica.pid}) ${why}; see ${launch.logFile}`;
    this.deps.logger.warn({ program: this.name, replica: replica.index, pid: replica.pid }, message);
    return { ok: false, message };
  }

  private readonly logOffsets = new Map<number, number>();

  private spawn(index: number, role: ReplicaRole): Replica {
    this.generation += 1;
    const launch = this.spec.launch(index, this.generation);
    mkdirSync(path.dirname(launch.logFile), { recursive: true });
    if (launch.readiness.type === 'file') {
      mkdirSync(path.dirname(launch.readiness.path), { recursive: true });
      rmSync(launch.readiness.path, { force: true });
    }
    let logOffset = 0;
    try {
      logOffset = statSync(launch.logFile).size;
    } catch {
      logOffset = 0;
    }
    // The log file descriptor goes straight to the child (no pipe through the agent), so a child's
    // output never blocks on the agent and survives it. execa's types only admit literal fds.
    const fd = openSync(launch.logFile, 'a') as 1;
    const child = (() => {
      try {
        return execa(launch.file, launch.args, {
          cwd: launch.cwd,
          env: launch.env,
          extendEnv: true,
          detached: true,
          cleanup: false,
          reject: false,
          stdin: 'ignore',
          stdout: fd,
          stderr: fd,
          buffer: false,
        });
      } finally {
        // The child has its own copy of the descriptor.
        closeSync(fd);
      }
    })();
    const pid = child.pid;
    if (pid === undefined) {
      void child.catch(() => undefined);
      throw new Error(`${this.name}: could not start ${launch.file}; check that it exists and is executable`);
    }
    this.logOffsets.set(pid, logOffset);
    const kind = this.spec.definition.kind;
    const ownerId = kind === 'celeriac-worker' && launch.workerName ? `${launch.workerName}:${pid}` : undefined;
    const brokerUrl = this.spec.brokerUrl;
    const exited = child.then(
      (result) => ({ code: result.exitCode ?? null, signal: result.signal ?? null, at: new Date().toISOString() }),
      () => ({ code: null, signal: null, at: new Date().toISOString() }),
    );
    const replica = new Replica(index, pid, Date.now(), role, ownerId, brokerUrl, launch, exited);
    this.all.add(replica);
    this.deps.registry.add({
      program: this.name,
      kind,
      replica: index,
      pid,
      pgid: pid,
      startTicks: processStartTicks(pid) ?? '',
      ownerId,
      brokerUrl,
    });
    this.deps.logger.info(
      { program: this.name, replica: index, pid, role, log: launch.logFile },
      'program replica started',
    );
    void exited.then((info) => this.onExit(replica, info));
    return replica;
  }

  private onExit(replica: Replica, info: LastExit): void {
    replica.exitInfo = info;
    replica.state = 'exited';
    this.all.delete(replica);
    this.deps.registry.remove(replica.pid);
    signalGroup(replica.pid, 'SIGKILL');
    this.lastExit = info;
    const expected = replica.role !== 'current' || this.stopping || this.closed;
    this.deps.onExit({
      program: this.name,
      kind: this.spec.definition.kind,
      replica: replica.index,
      pid: replica.pid,
      code: info.code,
      signal: info.signal,
      expected,
      ownerId: replica.ownerId,
      brokerUrl: replica.brokerUrl,
    });
    const slot = this.slots.get(replica.index);
    if (expected || !slot || slot.current !== replica) {
      this.deps.onChange();
      return;
    }
    slot.current = undefined;
    const log = { program: this.name, replica: replica.index, pid: replica.pid, code: info.code, signal: info.signal };
    if (slot.busy) {
      this.deps.logger.warn(log, 'program replica exited during a rolling restart');
      this.deps.onChange();
      return;
    }
    const decision = slot.backoff.exited();
    if (decision.action === 'fatal') {
      slot.fatal = true;
      this.deps.logger.error(
        { ...log, failures: decision.quickFailures },
        'program replica failed too often in a row; FATAL, not restarting it until the next config change',
      );
    } else {
      this.deps.logger.warn({ ...log, restartInMs: decision.delayMs }, 'program replica exited unexpectedly');
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (this.stopping || this.slots.get(replica.index) !== slot) return;
        this.restarts += 1;
        void this.restartCrashed(replica.index, slot);
      }, decision.delayMs);
    }
    this.deps.onChange();
  }

  private async restartCrashed(index: number, slot: Slot): Promise<void> {
    let replica: Replica;
    try {
      replica = this.spawn(index, 'current');
    } catch (error) {
      this.deps.logger.error({ program: this.name, replica: index, err: error }, 'could not restart program replica');
      slot.fatal = true;
      this.deps.onChange();
      return;
    }
    slot.current = replica;
    slot.backoff.started();
    this.deps.onChange();
    if (!(await this.awaitReady(replica)).ok) this.keepWatching(replica);
  }

  /** TERM to the leader (a Celery main process coordinates its pool's warm shutdown), KILL to the group after the timeout. */
  private stopReplica(replica: Replica, stopTimeoutMs = this.spec.stopTimeoutMs): Promise<void> {
    // A second TERM would turn a worker's warm shutdown into a cold one: stop each process once.
    replica.stopPromise ??= this.terminate(replica, stopTimeoutMs);
    return replica.stopPromise;
  }

  private async terminate(replica: Replica, stopTimeoutMs: number): Promise<void> {
    if (replica.hasExited()) return;
    replica.state = 'stopping';
    if (stopTimeoutMs > 0) {
      await this.drain(replica, Math.min(5000, stopTimeoutMs / 2));
      signalProcess(replica.pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        replica.exited.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), stopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (!timedOut) return;
      this.deps.logger.warn(
        { program: this.name, replica: replica.index, pid: replica.pid, stopTimeoutMs },
        'program replica did not stop within its stop timeout; killing its process group',
      );
    }
    signalGroup(replica.pid, 'SIGKILL');
    await replica.exited;
  }

  /** Runs the launch's drain commands (e.g. Celery's cancel_consumer) before TERM; failures are logged only. */
  private async drain(replica: Replica, timeoutMs: number): Promise<void> {
    for (const command of replica.launch.drain ?? []) {
      if (replica.hasExited()) return;
      const result = await execa(command.file, command.args, {
        cwd: command.cwd,
        env: command.env,
        extendEnv: true,
        reject: false,
        timeout: timeoutMs,
        stdin: 'ignore',
      });
      if (result.failed) {
        this.deps.logger.warn(
          {
            program: this.name,
            replica: replica.index,
            pid: replica.pid,
            exitCode: result.exitCode,
            timedOut: result.timedOut,
          },
          'could not ask the process to stop consuming before TERM; stopping it anyway',
        );
      }
    }
    const settleMs = replica.launch.drain?.length ? (replica.launch.drainSettleMs ?? 0) : 0;
    if (settleMs > 0 && !replica.hasExited()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([replica.exited, new Promise((r) => (timer = setTimeout(r, settleMs)))]);
      clearTimeout(timer);
    }
  }
}

function combine(results: ProgramOutcome[]): ProgramOutcome {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { ok: true };
  return { ok: false, message: failed.map((r) => r.message).join('; ') };
}

function describeExit(info: LastExit | null): string {
  if (!info) return 'unknown';
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}
