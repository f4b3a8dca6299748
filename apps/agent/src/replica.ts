import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import type { LastExit, ProgramKind } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import { execa } from 'execa';
import type { ChildRecord } from './child-registry.js';
import { ProgramNotReadyError, ProgramSpawnError } from './errors.js';
import { processStartTicks, signalGroup, signalProcess } from './process-group.js';
import type { Launch } from './program-launch.js';
import { waitForReadiness } from './readiness.js';

/** Result of an operation on a program or one of its processes; `error` carries the stable code of a failure. */
export interface ProgramOutcome {
  ok: boolean;
  message?: string;
  error?: ProgramSpawnError | ProgramNotReadyError;
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

/** A candidate waits for readiness beside the process it replaces; a draining one is being stopped. */
export type ReplicaRole = 'candidate' | 'current' | 'draining';

/** What `spawnReplica` starts. */
export interface ReplicaLaunch {
  program: string;
  /** 1-based replica slot. */
  index: number;
  role: ReplicaRole;
  launch: Launch;
  /** Celeriac workers record held tasks under `<name>:<pid>`; the owner id lets the agent restore them. */
  recordsOwner: boolean;
  brokerUrl?: string;
}

/** How long the drain commands may take at most, and the share of the stop timeout they may use. */
const MAX_DRAIN_MS = 5000;

/**
 * One process of a program, leader of its own process group, with its log going straight to a
 * file. It knows how to wait for its readiness and how to stop (drain, TERM, KILL of the group).
 */
export class Replica {
  state: 'starting' | 'running' | 'stopping' | 'exited' = 'starting';
  exitInfo: LastExit | null = null;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly program: string,
    readonly index: number,
    readonly pid: number,
    public role: ReplicaRole,
    readonly launch: Launch,
    /** Size of the log file before the process started: its ready line comes after it. */
    readonly logOffset: number,
    readonly ownerId: string | undefined,
    readonly brokerUrl: string | undefined,
    readonly exited: Promise<LastExit>,
  ) {}

  hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** Fields that name this process in log lines. */
  get logFields(): { program: string; replica: number; pid: number } {
    return { program: this.program, replica: this.index, pid: this.pid };
  }

  /** Waits until the process says it is ready; the failure says why (timeout or exit) and where its log is. */
  async awaitReady(timeoutMs: number): Promise<ProgramOutcome> {
    if (this.state === 'running') return { ok: true };
    const result = await waitForReadiness(this, this.launch.readiness, { timeoutMs, logOffset: this.logOffset });
    if (result.ready) {
      if (this.state === 'starting') this.state = 'running';
      return { ok: true };
    }
    const exited = result.reason === 'exited';
    const why = exited
      ? `exited (${describeExit(this.exitInfo)}) before it was ready`
      : `was not ready within ${timeoutMs} ms`;
    const error = new ProgramNotReadyError(
      `${this.program} replica ${this.index} (pid ${this.pid}) ${why}; see ${this.launch.logFile}`,
      exited ? 'AGENT_PROGRAM_EXITED' : 'AGENT_PROGRAM_NOT_READY',
    );
    return { ok: false, message: error.message, error };
  }

  /**
   * Stops the process once (a second TERM would turn a worker's warm shutdown into a cold one):
   * drain commands, TERM to the leader (a Celery main process coordinates its pool's warm
   * shutdown), KILL to the whole group after `stopTimeoutMs` (0: KILL at once).
   */
  stop(stopTimeoutMs: number, logger: Logger): Promise<void> {
    this.stopping ??= this.terminate(stopTimeoutMs, logger);
    return this.stopping;
  }

  /** KILLs the process group now; a pending stop() settles once the process is gone. */
  kill(): void {
    signalGroup(this.pid, 'SIGKILL');
  }

  private async terminate(stopTimeoutMs: number, logger: Logger): Promise<void> {
    if (this.hasExited()) return;
    this.state = 'stopping';
    if (stopTimeoutMs > 0) {
      await this.drain(Math.min(MAX_DRAIN_MS, stopTimeoutMs / 2), logger);
      signalProcess(this.pid, 'SIGTERM');
      if ((await raceTimeout(this.exited, stopTimeoutMs)) !== TIMED_OUT) return;
      logger.warn(
        { event: 'program.stop_timeout', ...this.logFields, stop_timeout_ms: stopTimeoutMs },
        'program replica did not stop within its stop timeout; killing its process group',
      );
    }
    this.kill();
    await this.exited;
  }

  /** Runs the launch's drain commands (e.g. Celery's cancel_consumer) before TERM; failures are logged only. */
  private async drain(timeoutMs: number, logger: Logger): Promise<void> {
    const commands = this.launch.drain ?? [];
    for (const command of commands) {
      if (this.hasExited()) return;
      const result = await execa(command.file, command.args, {
        cwd: command.cwd,
        env: command.env,
        extendEnv: true,
        reject: false,
        timeout: timeoutMs,
        stdin: 'ignore',
      });
      if (result.failed) {
        logger.warn(
          { event: 'program.drain_failed', ...this.logFields, exit_code: result.exitCode, timed_out: result.timedOut },
          'could not ask the process to stop consuming before TERM; stopping it anyway',
        );
      }
    }
    const settleMs = commands.length > 0 ? (this.launch.drainSettleMs ?? 0) : 0;
    if (settleMs > 0 && !this.hasExited()) await raceTimeout(this.exited, settleMs);
  }
}

/**
 * Starts one process in its own process group, its stdout and stderr appended to the launch's
 * log file (the descriptor goes straight to the child, so a child's output never blocks on the
 * agent and survives it). Throws `ProgramSpawnError` when the process cannot be started.
 */
export function spawnReplica(spec: ReplicaLaunch): Replica {
  const { launch } = spec;
  let logOffset = 0;
  let fd: number;
  try {
    mkdirSync(path.dirname(launch.logFile), { recursive: true });
    if (launch.readiness.type === 'file') {
      mkdirSync(path.dirname(launch.readiness.path), { recursive: true });
      rmSync(launch.readiness.path, { force: true });
    }
    try {
      logOffset = statSync(launch.logFile).size;
    } catch {
      logOffset = 0;
    }
    fd = openSync(launch.logFile, 'a');
  } catch (error) {
    throw new ProgramSpawnError(
      `${spec.program}: cannot prepare the log file ${launch.logFile} (${(error as Error).message}); check the state dir`,
      { cause: error },
    );
  }
  let child: ReturnType<typeof execa>;
  try {
    child = execa(launch.file, launch.args, {
      cwd: launch.cwd,
      env: launch.env,
      extendEnv: true,
      detached: true,
      cleanup: false,
      reject: false,
      stdin: 'ignore',
      // execa's types only admit literal fds.
      stdout: fd as 1,
      stderr: fd as 1,
      buffer: false,
    });
  } catch (error) {
    throw new ProgramSpawnError(`${spec.program}: could not start ${launch.file} (${(error as Error).message})`, {
      cause: error,
    });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    void child.catch(() => undefined);
    throw new ProgramSpawnError(
      `${spec.program}: could not start ${launch.file} in ${launch.cwd}; check that it exists and is executable`,
    );
  }
  const exited = child.then(
    (result) => ({ code: result.exitCode ?? null, signal: result.signal ?? null, at: new Date().toISOString() }),
    () => ({ code: null, signal: null, at: new Date().toISOString() }),
  );
  const ownerId = spec.recordsOwner && launch.workerName ? `${launch.workerName}:${pid}` : undefined;
  const replica = new Replica(
    spec.program,
    spec.index,
    pid,
    spec.role,
    launch,
    logOffset,
    ownerId,
    spec.brokerUrl,
    exited,
  );
  // Registered first, so every later handler of `exited` sees the replica as exited.
  void exited.then((info) => {
    replica.exitInfo = info;
    replica.state = 'exited';
  });
  return replica;
}

/** How often the exit of an adopted process (not a child of this agent: no exit event) is checked. */
const ADOPTED_POLL_MS = 100;

/**
 * A process a previous run of the agent started and left running, taken over as a replica: its
 * exit is seen by polling /proc (its exit code is unknown), and it is stopped like any other.
 * One recorded as ready counts as running at once.
 */
export function adoptReplica(spec: { program: string; index: number; launch: Launch; record: ChildRecord }): Replica {
  const { record } = spec;
  const exited = new Promise<LastExit>((resolve) => {
    const timer = setInterval(() => {
      if (processStartTicks(record.pid) === record.startTicks) return;
      clearInterval(timer);
      resolve({ code: null, signal: null, at: new Date().toISOString() });
    }, ADOPTED_POLL_MS);
  });
  let logOffset = 0;
  try {
    logOffset = statSync(spec.launch.logFile).size;
  } catch {
    logOffset = 0;
  }
  const replica = new Replica(
    spec.program,
    spec.index,
    record.pid,
    'current',
    spec.launch,
    // Not recorded as ready: its ready line may be anywhere in the log.
    record.ready ? logOffset : 0,
    record.ownerId,
    record.brokerUrl,
    exited,
  );
  if (record.ready) replica.state = 'running';
  void exited.then((info) => {
    replica.exitInfo = info;
    replica.state = 'exited';
  });
  return replica;
}

function describeExit(info: LastExit | null): string {
  if (!info) return 'unknown';
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/** One outcome for many: ok when all are, else their messages joined and the first error. */
export function combineOutcomes(results: ProgramOutcome[]): ProgramOutcome {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { ok: true };
  const outcome: ProgramOutcome = { ok: false, message: failed.map((r) => r.message).join('; ') };
  const error = failed.find((r) => r.error)?.error;
  if (error) outcome.error = error;
  return outcome;
}
