import { readFile } from 'node:fs/promises';
import { isAtomicTempFile } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { type FSWatcher, watch } from 'chokidar';
import { fileHash } from './program-launch.js';

/** A config file whose content no longer matches what the agent wrote. */
export interface DriftEvent {
  program: string;
  file: string;
  hash: string;
  /** The file's new content. */
  content: string;
}

/**
 * Watches the programs' config files with chokidar. Each file has an expected content hash (what
 * the agent last wrote or accepted); a change event is debounced, the file is read and hashed,
 * and only a different hash counts, so the agent's own writes are never mistaken for edits. A
 * hand edit on the host is reported through `onDrift`.
 */
export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private readonly expected = new Map<string, { program: string; hash: string }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly options: { logger: Logger; debounceMs?: number; onDrift(event: DriftEvent): void },
  ) {}

  /** Starts watching; resolves once the initial scan is done. */
  async start(): Promise<void> {
    if (this.watcher || this.closed) return;
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      ignored: (file) => isAtomicTempFile(file) || /[/\\](logs|ready)([/\\]|$)/.test(file),
      awaitWriteFinish: false,
      atomic: true,
    });
    this.watcher = watcher;
    const onEvent = (file: string) => this.schedule(file);
    watcher.on('add', onEvent).on('change', onEvent);
    watcher.on('error', (error) =>
      this.options.logger.warn({ event: 'agent.watcher_error', err: error }, 'config watcher error'),
    );
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  /** Sets the content hash the agent expects in `file` (call before writing it). */
  expect(program: string, file: string, hash: string): void {
    this.expected.set(file, { program, hash });
  }

  /** Stops expecting anything of `file` (its program was removed). */
  forget(file: string): void {
    this.expected.delete(file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.watcher?.close();
  }

  private schedule(file: string): void {
    if (!this.expected.has(file) || this.closed) return;
    const existing = this.timers.get(file);
    if (existing) clearTimeout(existing);
    this.timers.set(
      file,
      setTimeout(() => {
        this.timers.delete(file);
        void this.check(file);
      }, this.options.debounceMs ?? 100),
    );
  }

  private async check(file: string): Promise<void> {
    const entry = this.expected.get(file);
    if (!entry || this.closed) return;
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      return;
    }
    const hash = fileHash(content);
    const current = this.expected.get(file);
    if (!current || current.hash === hash || this.closed) return;
    this.options.logger.warn(
      { event: 'agent.config_file_edited', program: entry.program, file },
      'config file was changed on the host',
    );
    this.expected.set(file, { program: entry.program, hash });
    this.options.onDrift({ program: entry.program, file, hash, content: content.toString('utf8') });
  }
}
