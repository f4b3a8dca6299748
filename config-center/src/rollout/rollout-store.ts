import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@celeriac/common';
import type { RolloutRecord } from './rollout-record.js';

/** An operator's command queued by a replica for the one that drives rollouts. */
export interface QueuedRolloutCommand {
  /** Unique per request: the answer is found under it. */
  id: string;
  rollout: string;
  command: 'pause' | 'resume' | 'promote' | 'abort';
  by: string;
}

/** The driver's answer to a queued command: the record after it, or why it was refused. */
export type RolloutCommandResult = { ok: true; record: RolloutRecord } | { ok: false; code: string; message: string };

/**
 * Where rollout records survive a center restart, and how replicas sharing a store agree on which
 * one drives rollouts: a lease that only one holds at a time, saves fenced by it, and operator
 * commands queued for its holder. A store used by one process holds the lease always.
 */
export interface RolloutStore {
  /** A short description for logs. */
  readonly description: string;
  /** True when several center replicas share the records (then only the lease holder drives). */
  readonly shared: boolean;
  load(): Promise<RolloutRecord[]>;
  /** The records' version (changes on every save); cheap to poll. */
  version(): Promise<number>;
  /** Saves every record if `lease` still holds the lease; resolves false (nothing saved) when not. */
  save(records: readonly RolloutRecord[], lease: string): Promise<boolean>;
  /** Takes the lease for `ttlMs` or renews it; false while another replica holds it. */
  acquireLease(lease: string, ttlMs: number): Promise<boolean>;
  releaseLease(lease: string): Promise<void>;
  /** Called when another replica changed records or queued a command or an answer. */
  onChange(listener: () => void): void;
  queueCommand(command: QueuedRolloutCommand): Promise<void>;
  /** The queued commands (removed) if `lease` holds the lease. */
  takeCommands(lease: string): Promise<QueuedRolloutCommand[]>;
  putResult(id: string, result: RolloutCommandResult): Promise<void>;
  /** The answer to a queued command (removed), or undefined while there is none. */
  takeResult(id: string): Promise<RolloutCommandResult | undefined>;
}

/** The parts of a store used by one process only: it always holds the lease and queues nothing. */
abstract class SoloRolloutStore implements RolloutStore {
  abstract readonly description: string;
  readonly shared = false;
  private saves = 0;
  abstract load(): Promise<RolloutRecord[]>;
  protected abstract write(records: readonly RolloutRecord[]): Promise<void>;

  async version(): Promise<number> {
    return this.saves;
  }

  async save(records: readonly RolloutRecord[]): Promise<boolean> {
    await this.write(records);
    this.saves++;
    return true;
  }

  async acquireLease(): Promise<boolean> {
    return true;
  }

  async releaseLease(): Promise<void> {}

  onChange(): void {}

  async queueCommand(): Promise<void> {
    throw new Error('a store of one process has no command queue: the process drives its rollouts itself');
  }

  async takeCommands(): Promise<QueuedRolloutCommand[]> {
    return [];
  }

  async putResult(): Promise<void> {}

  async takeResult(): Promise<RolloutCommandResult | undefined> {
    return undefined;
  }
}

/** Rollout records in one JSON file (next to the file store's log), replaced atomically on every change. */
export class RolloutFileStore extends SoloRolloutStore {
  constructor(private readonly path: string) {
    super();
  }

  get description(): string {
    return `file ${this.path}`;
  }

  async load(): Promise<RolloutRecord[]> {
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as { rollouts?: RolloutRecord[] };
      return Array.isArray(parsed.rollouts) ? parsed.rollouts : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  protected async write(records: readonly RolloutRecord[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ rollouts: records })}\n`);
  }
}

/** Rollout records kept in memory only (tests, and stores without a rollout file): lost on restart. */
export class RolloutMemoryStore extends SoloRolloutStore {
  readonly description = 'memory (lost on restart)';
  private records: RolloutRecord[] = [];

  async load(): Promise<RolloutRecord[]> {
    return structuredClone(this.records);
  }

  protected async write(records: readonly RolloutRecord[]): Promise<void> {
    this.records = structuredClone([...records]);
  }
}
