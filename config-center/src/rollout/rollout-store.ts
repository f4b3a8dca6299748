import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@celeriac/common';
import type { RolloutRecord } from './rollout-record.js';

/** Where rollout records survive a center restart. */
export interface RolloutStore {
  /** A short description for logs. */
  readonly description: string;
  load(): Promise<RolloutRecord[]>;
  save(records: readonly RolloutRecord[]): Promise<void>;
}

/** Rollout records in one JSON file (next to the file store's log), replaced atomically on every change. */
export class RolloutFileStore implements RolloutStore {
  constructor(private readonly path: string) {}

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

  async save(records: readonly RolloutRecord[]): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify({ rollouts: records })}\n`);
  }
}

/** Rollout records kept in memory only (tests, and stores without a rollout file): lost on restart. */
export class RolloutMemoryStore implements RolloutStore {
  readonly description = 'memory (lost on restart)';
  private records: RolloutRecord[] = [];

  async load(): Promise<RolloutRecord[]> {
    return structuredClone(this.records);
  }

  async save(records: readonly RolloutRecord[]): Promise<void> {
    this.records = structuredClone([...records]);
  }
}
