import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { groupMembers, processStartTicks } from './process-group.js';

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
  /** `config_hash` of the config file it was started on: a restarted agent adopts it only on the same. */
  configHash?: string;
  /** sha256 of its command line, environment and work dir (`launchFingerprint`). */
  launchHash?: string;
  /** Which process of the program it was (worker names of Celery workers carry it). */
  generation?: number;
  /** How long a warm stop may take before its group is killed (the program's `stop_timeout`). */
  stopTimeoutMs?: number;
  /** Set once it was ready. */
  ready?: boolean;
}

/**
 * `<stateDir>/children.json`: every live child with its pid, process group, start time and what
 * it was started from, rewritten (atomically, synchronously) on every start, readiness and exit.
 * When an agent is killed without a chance to stop its children, the next agent reads this file
 * (`loadLeftovers`) and adopts or stops (warm) the process groups that are still the ones it
 * recorded; they stay listed until then, so an agent killed again in between loses none.
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

  /** Changes fields of a recorded child (e.g. `ready`). */
  update(pid: number, fields: Partial<ChildRecord>): void {
    const record = this.children.get(pid);
    if (!record) return;
    Object.assign(record, fields);
    this.persist();
  }

  remove(pid: number): void {
    if (this.children.delete(pid)) this.persist();
  }

  list(): ChildRecord[] {
    return [...this.children.values()];
  }

  /**
   * The children a previous agent run left running: the recorded process groups that still have a
   * live process. A record whose leader pid now belongs to a different process (its start time
   * differs) is left alone and dropped. The live ones stay recorded (the caller adopts or stops them).
   */
  loadLeftovers(): ChildRecord[] {
    let records: ChildRecord[];
    try {
      records = JSON.parse(readFileSync(this.file, 'utf8')) as ChildRecord[];
      if (!Array.isArray(records)) records = [];
    } catch {
      records = [];
    }
    this.children.clear();
    const live: ChildRecord[] = [];
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
      this.children.set(record.pid, record);
      live.push(record);
    }
    this.persist();
    return live;
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
