import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { groupMembers, processStartTicks, signalGroup, waitGroupGone } from './process-group.js';

/** One child process the agent started, as recorded on disk. */
export interface ChildRecord {
  program: string;
  kind: string;
  replica: number;
  pid: number;
  /** Process group (the child leads its own group, so normally equal to pid). */
  pgid: number;
  /** /proc start time of the child, to tell it from a later process that got the same pid. */
  startTicks: string;
  /** Owner id of its held-task records (`<name>:<pid>`) for celeriac workers. */
  ownerId?: string;
  brokerUrl?: string;
}

/**
 * `<stateDir>/children.json`: every live child with its pid, process group and start time,
 * rewritten (atomically, synchronously) on every start and exit. When an agent is killed
 * without a chance to stop its children, the next agent reads this file and kills the process
 * groups that are still the ones it recorded.
 */
export class ChildRegistry {
  readonly file: string;
  private readonly children = new Map<number, ChildRecord>();

  constructor(
    stateDir: string,
    private readonly logger: Logger,
  ) {
    this.file = path.join(stateDir, 'children.json');
  }

  add(record: ChildRecord): void {
    this.children.set(record.pid, record);
    this.persist();
  }

  remove(pid: number): void {
    if (this.children.delete(pid)) this.persist();
  }

  list(): ChildRecord[] {
    return [...this.children.values()];
  }

  /**
   * Kills the leftover process groups of a previous agent run (KILL: nothing would supervise a
   * graceful stop) and returns the records of the ones that were killed. A record whose leader
   * pid now belongs to a different process (start time differs) is left alone.
   */
  async reapLeftovers(): Promise<ChildRecord[]> {
    let records: ChildRecord[];
    try {
      records = JSON.parse(readFileSync(this.file, 'utf8')) as ChildRecord[];
      if (!Array.isArray(records)) records = [];
    } catch {
      records = [];
    }
    const killed: ChildRecord[] = [];
    for (const record of records) {
      if (!Number.isInteger(record.pgid) || record.pgid <= 1 || record.pgid === process.pid) continue;
      const leaderTicks = processStartTicks(record.pgid);
      if (leaderTicks !== null && leaderTicks !== record.startTicks) {
        this.logger.warn(
          { event: 'agent.leftover_pid_reused', program: record.program, pid: record.pid },
          'recorded child pid now belongs to another process; not touching it',
        );
        continue;
      }
      if (groupMembers(record.pgid).length === 0) continue;
      this.logger.warn(
        {
          event: 'agent.leftover_killed',
          program: record.program,
          replica: record.replica,
          pid: record.pid,
          pgid: record.pgid,
        },
        'killing a leftover process group of a previous agent run',
      );
      signalGroup(record.pgid, 'SIGKILL');
      await waitGroupGone(record.pgid, 5000);
      killed.push(record);
    }
    this.children.clear();
    this.persist();
    return killed;
  }

  private persist(): void {
    try {
      writeFileAtomicSync(this.file, `${JSON.stringify(this.list(), null, 2)}\n`);
    } catch (error) {
      this.logger.error(
        { event: 'agent.child_registry_write_failed', err: error, file: this.file },
        'could not record child processes',
      );
    }
  }
}
