import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '@celeriac/common';
import { ConfigInvalidError } from './errors.js';

/** The last config this node applied successfully, as the center served it. */
export interface KnownGoodConfig {
  revision: number;
  hash: string;
  config: unknown;
  savedAt: string;
}

/**
 * The last-known-good copy in the state dir. It lets the agent bring its programs up when it
 * starts while the center is unreachable; it is written only after an apply succeeded.
 */
export class LastKnownGood {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'last-known-good.json');
  }

  /**
   * The saved copy, or null when there is none or it cannot be read (the reason goes to `onError`:
   * the OS error, or a `ConfigInvalidError` for a file that is not a last-known-good copy).
   */
  async load(onError?: (error: Error) => void): Promise<KnownGoodConfig | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onError?.(error as Error);
      return null;
    }
    try {
      const value = JSON.parse(text) as Partial<KnownGoodConfig>;
      if (typeof value.revision !== 'number' || typeof value.hash !== 'string' || value.config === undefined) {
        throw new Error('missing revision, hash or config');
      }
      return { revision: value.revision, hash: value.hash, config: value.config, savedAt: String(value.savedAt ?? '') };
    } catch (error) {
      const problem = `${(error as Error).message}; delete the file or let the agent reach the center`;
      onError?.(new ConfigInvalidError([{ path: '', message: problem }], `the last-known-good file ${this.file}`));
      return null;
    }
  }

  /** Replaces the saved copy atomically. */
  async save(entry: { revision: number; hash: string; config: unknown }): Promise<void> {
    const value: KnownGoodConfig = { ...entry, savedAt: new Date().toISOString() };
    await writeFileAtomic(this.file, `${JSON.stringify(value, null, 2)}\n`);
  }
}
