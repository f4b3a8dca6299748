import { createHash } from 'node:crypto';
import type { Logger } from '@celeriac/logger';
import type { ChildRecord, ChildRegistry } from './child-registry.js';
import { processStartTicks, signalGroup, signalProcess, waitGroupGone, waitProcessGone } from './process-group.js';
import type { Launch } from './program-launch.js';

/** Stop timeout of a leftover whose record does not say (written by an older agent). */
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** After its leader exited, how long the rest of a group may take to go once KILLed. */
const GROUP_KILL_WAIT_MS = 5_000;

/** sha256 of what a process was started with: file, arguments, environment (sorted) and work dir. */
export function launchFingerprint(launch: Launch): string {
  const env = Object.keys(launch.env)
    .sort()
    .map((key) => [key, launch.env[key]]);
  return createHash('sha256')
    .update(JSON.stringify([launch.file, launch.args, env, launch.cwd]))
    .digest('hex');
}

/** Why a leftover is stopped instead of adopted (the `reason` of `agent.leftover_stopping`). */
type StopReason = 'config_changed' | 'command_changed' | 'not_in_config' | 'leader_gone';

/**
 * The processes a previous run of the agent left running (it was killed without stopping them).
 * The first config applied adopts those that run exactly what it would start (`claim`: same
 * program, replica, config hash and command line): they keep running, untouched. The others are
 * stopped warm (`stopRest`): TERM to the leader, KILL of the group only after their stop timeout,
 * never a bare SIGKILL, so a worker finishes or hands back what it holds.
 */
export class Leftovers {
  private pool: ChildRecord[] = [];
  private readonly reasons = new Map<ChildRecord, StopReason>();
  private readonly stopping = new Set<ChildRecord>();

  constructor(
    private readonly registry: ChildRegistry,
    private readonly logger: Logger,
  ) {}

  /** Reads the leftovers of the registry; returns them. */
  load(): ChildRecord[] {
    this.pool = this.registry.loadLeftovers();
    for (const record of this.pool) {
      this.logger.info(
        { event: 'agent.leftover_found', ...fields(record), config_hash: record.configHash ?? null },
        'found a process of a previous agent run still running',
      );
    }
    return [...this.pool];
  }

  /** Leftovers not adopted nor stopped yet. */
  get size(): number {
    return this.pool.length;
  }

  /**
   * The leftover of `program`'s replica `replica` that runs `configHash` with the command line
   * `launch(generation)` would give, taken out of the pool; undefined when there is none.
   */
  claim(
    program: string,
    replica: number,
    configHash: string,
    launch: (generation: number) => Launch,
  ): ChildRecord | undefined {
    for (const record of this.pool) {
      if (record.program !== program || record.replica !== replica) continue;
      if (processStartTicks(record.pid) !== record.startTicks) this.reasons.set(record, 'leader_gone');
      else if (record.configHash !== configHash) this.reasons.set(record, 'config_changed');
      else if (record.launchHash !== launchFingerprint(launch(record.generation ?? 1))) {
        this.reasons.set(record, 'command_changed');
      } else {
        this.pool = this.pool.filter((r) => r !== record);
        return record;
      }
    }
    return undefined;
  }

  /**
   * Stops every leftover still in the pool, warm and all at once; resolves with their records
   * once each is gone (for putting back what a worker still held).
   */
  async stopRest(): Promise<ChildRecord[]> {
    const records = this.pool;
    this.pool = [];
    await Promise.all(records.map((record) => this.stopWarm(record)));
    return records;
  }

  /** KILLs the groups of every leftover not adopted (a second Ctrl-C of the agent). */
  killAll(): void {
    for (const record of [...this.pool, ...this.stopping]) signalGroup(record.pgid, 'SIGKILL');
  }

  private async stopWarm(record: ChildRecord): Promise<void> {
    this.stopping.add(record);
    const stopTimeoutMs = record.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const leaderAlive = processStartTicks(record.pid) === record.startTicks;
    const reason = this.reasons.get(record) ?? (leaderAlive ? 'not_in_config' : 'leader_gone');
    this.logger.warn(
      { event: 'agent.leftover_stopping', ...fields(record), reason, stop_timeout_ms: stopTimeoutMs },
      'stopping a process of a previous agent run (TERM, KILL only after its stop timeout)',
    );
    const startedAt = Date.now();
    let warm: boolean;
    if (leaderAlive) {
      // As for a replica: TERM to the leader, which coordinates the shutdown of its group.
      signalProcess(record.pid, 'SIGTERM');
      warm = await waitProcessGone(record.pid, record.startTicks, stopTimeoutMs);
    } else {
      signalGroup(record.pgid, 'SIGTERM');
      warm = await waitGroupGone(record.pgid, stopTimeoutMs);
    }
    if (!warm) {
      this.logger.warn(
        { event: 'agent.leftover_stop_timeout', ...fields(record), stop_timeout_ms: stopTimeoutMs },
        'a process of a previous agent run did not stop within its stop timeout; killing its process group',
      );
    }
    // Whatever the leader left in its group goes with it (as when a replica exits).
    signalGroup(record.pgid, 'SIGKILL');
    await waitGroupGone(record.pgid, GROUP_KILL_WAIT_MS);
    this.stopping.delete(record);
    this.registry.remove(record.pid);
    this.logger.info(
      { event: 'agent.leftover_stopped', ...fields(record), warm, duration_ms: Date.now() - startedAt },
      warm ? 'a process of a previous agent run stopped (warm)' : 'a process of a previous agent run was killed',
    );
  }
}

function fields(record: ChildRecord): { program: string; replica: number; pid: number; pgid: number } {
  return { program: record.program, replica: record.replica, pid: record.pid, pgid: record.pgid };
}
