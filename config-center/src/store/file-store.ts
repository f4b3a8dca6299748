import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectory, writeFileAtomic } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { CenterError, CenterStartError } from '../errors.js';
import type { StateCheckpoint } from '../state-checkpoint.js';
import type { NodeStatusRecord, Revision, RevisionDraft, TokenRecord } from '../types.js';
import type { AppendExpectation, AppendResult, ConfigStore } from './config-store.js';
import { encodeRecord, parseRevisionLog } from './revision-log.js';

/** Options of the embedded file store. */
export interface FileStoreOptions {
  /** Directory for `revisions.log`, `tokens.json`, `nodes.json` and the lock file. */
  dataDir: string;
  logger: Logger;
  /** How long node statuses are batched before they are written; default 1000 ms. */
  statusFlushMs?: number;
  /** A snapshot of every layer's revision is written after this many revisions; default 100. */
  snapshotEvery?: number;
}

/** `snapshot.json`: which revision each layer was at when the log had `head` revisions. */
interface Snapshot {
  head: number;
  layers: Record<string, number>;
}

/**
 * The embedded store: an append-only revision log (one checksummed JSON line per revision, fsync
 * before the write is acknowledged) and small state files replaced atomically. After a kill -9 a
 * revision is wholly there or not at all; a torn tail is cut off at the next start.
 */
export class FileStore implements ConfigStore {
  readonly description: string;
  private readonly logFile: string;
  private readonly tokensFile: string;
  private readonly nodesFile: string;
  private readonly snapshotFile: string;
  private readonly checkpointFile: string;
  private readonly snapshotEvery: number;
  private readonly lockFile: string;
  private readonly statusFlushMs: number;
  private handle: FileHandle | undefined;
  private logBytes = 0;
  private revisions: Revision[] = [];
  private readonly layerRevisions = new Map<string, number>();
  private tokens = new Map<string, TokenRecord>();
  /** Token id by the sha256 of its secret: every request authenticates, so no scan of all tokens. */
  private tokenIdsByHash = new Map<string, string>();
  private statuses = new Map<string, NodeStatusRecord>();
  private readonly listeners: ((head: number) => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private statusTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly options: FileStoreOptions) {
    this.description = `file:${path.resolve(options.dataDir)}`;
    this.logFile = path.join(options.dataDir, 'revisions.log');
    this.tokensFile = path.join(options.dataDir, 'tokens.json');
    this.nodesFile = path.join(options.dataDir, 'nodes.json');
    this.snapshotFile = path.join(options.dataDir, 'snapshot.json');
    this.checkpointFile = path.join(options.dataDir, 'checkpoint.json');
    this.snapshotEvery = options.snapshotEvery ?? 100;
    this.lockFile = path.join(options.dataDir, 'center.lock');
    this.statusFlushMs = options.statusFlushMs ?? 1000;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    await this.takeLock();
    const buffer = await readFile(this.logFile).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    });
    const parsed = parseRevisionLog(buffer);
    if (parsed.corruptAt !== undefined) {
      throw new CenterStartError(
        'CENTER_STORE_CORRUPT',
        `${this.logFile} is damaged at byte ${parsed.corruptAt} (revision ${parsed.revisions.length + 1}) and has ` +
          'valid records after it; restore the file from a backup or move it aside to start empty.',
      );
    }
    this.handle = await open(this.logFile, 'a+', 0o600);
    if (parsed.tornBytes > 0) {
      this.options.logger.warn(
        { event: 'center.store_torn_tail', bytes: parsed.tornBytes, revisions: parsed.revisions.length },
        'cut off an incomplete last record of the revision log (a write was interrupted by a crash)',
      );
      await this.handle.truncate(parsed.validBytes);
      await this.handle.sync();
    }
    this.logBytes = parsed.validBytes;
    this.revisions = parsed.revisions;
    for (const revision of this.revisions) this.layerRevisions.set(revision.layer, revision.revision);
    await this.checkSnapshot();
    await syncDirectory(this.options.dataDir);
    this.tokens = new Map((await this.readJson<TokenRecord[]>(this.tokensFile, [])).map((t) => [t.id, t]));
    this.indexTokens();
    this.statuses = new Map((await this.readJson<NodeStatusRecord[]>(this.nodesFile, [])).map((s) => [s.node, s]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.statusTimer) {
      clearTimeout(this.statusTimer);
      this.statusTimer = undefined;
      await this.flushStatuses().catch(() => undefined);
    }
    await this.handle?.close();
    this.handle = undefined;
    if (this.started) await unlink(this.lockFile).catch(() => undefined);
  }

  async readRevisions(afterRevision: number): Promise<Revision[]> {
    return this.revisions.slice(Math.max(0, afterRevision));
  }

  append(draft: RevisionDraft, expect: AppendExpectation): Promise<AppendResult> {
    return this.serial(async () => {
      const handle = this.handle;
      if (!handle || this.closed)
        throw new CenterError('CENTER_SERVICE_UNAVAILABLE', 'the store is closed; retry on a running center');
      const current = this.layerRevisions.get(draft.layer) ?? 0;
      if (current !== expect.layerRevision)
        return { ok: false, reason: 'layer_conflict', currentLayerRevision: current };
      const head = this.revisions.length;
      if (head !== expect.headRevision) return { ok: false, reason: 'head_moved', headRevision: head };
      const revision: Revision = { revision: head + 1, ...draft };
      const record = Buffer.from(encodeRecord(revision), 'utf8');
      try {
        await handle.write(record, 0, record.length, this.logBytes);
        await handle.datasync();
      } catch (error) {
        await handle.truncate(this.logBytes).catch(() => undefined);
        throw new CenterError(
          'CENTER_SERVICE_UNAVAILABLE',
          `could not write ${this.logFile}; check the disk and retry`,
          {
            cause: error,
          },
        );
      }
      this.logBytes += record.length;
      this.revisions.push(revision);
      this.layerRevisions.set(revision.layer, revision.revision);
      if (revision.revision % this.snapshotEvery === 0) {
        // The revision is durable already; a failed snapshot only delays the next check.
        await this.writeSnapshot().catch((error: unknown) =>
          this.options.logger.warn(
            { event: 'center.store_snapshot_failed', err: error },
            'could not write snapshot.json',
          ),
        );
      }
      for (const listener of this.listeners) listener(revision.revision);
      return { ok: true, revision };
    });
  }

  onAppend(listener: (headRevision: number) => void): void {
    this.listeners.push(listener);
  }

  async listTokens(): Promise<TokenRecord[]> {
    return [...this.tokens.values()];
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    return this.tokens.get(id);
  }

  putToken(token: TokenRecord): Promise<void> {
    return this.serial(async () => {
      this.tokens.set(token.id, token);
      this.indexTokens();
      await writeFileAtomic(this.tokensFile, JSON.stringify([...this.tokens.values()], null, 2));
    });
  }

  deleteToken(id: string): Promise<boolean> {
    return this.serial(async () => {
      if (!this.tokens.delete(id)) return false;
      this.indexTokens();
      await writeFileAtomic(this.tokensFile, JSON.stringify([...this.tokens.values()], null, 2));
      return true;
    });
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const id = this.tokenIdsByHash.get(hash);
    return id === undefined ? undefined : this.tokens.get(id);
  }

  private indexTokens(): void {
    this.tokenIdsByHash = new Map([...this.tokens.values()].map((token) => [token.hash, token.id]));
  }

  async putNodeStatus(record: NodeStatusRecord): Promise<void> {
    this.statuses.set(record.node, record);
    if (!this.statusTimer && !this.closed) {
      this.statusTimer = setTimeout(() => {
        this.statusTimer = undefined;
        this.flushStatuses().catch((error: unknown) =>
          this.options.logger.warn(
            { event: 'center.store_status_write_failed', err: error },
            'could not save node statuses',
          ),
        );
      }, this.statusFlushMs);
      this.statusTimer.unref();
    }
  }

  async listNodeStatuses(): Promise<NodeStatusRecord[]> {
    return [...this.statuses.values()];
  }

  /** `checkpoint.json`, or undefined when there is none or it cannot be read (a start then replays the log). */
  async readCheckpoint(): Promise<StateCheckpoint | undefined> {
    try {
      const value = JSON.parse(await readFile(this.checkpointFile, 'utf8')) as StateCheckpoint;
      return typeof value?.head === 'number' && typeof value.nodes === 'object' ? value : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.options.logger.warn(
          { event: 'center.checkpoint_unreadable', err: error, file: this.checkpointFile },
          'checkpoint.json cannot be read; replaying the whole revision log instead',
        );
      }
      return undefined;
    }
  }

  /** Replaces `checkpoint.json` atomically; the log itself is never rewritten (it is the history). */
  writeCheckpoint(checkpoint: StateCheckpoint): Promise<void> {
    return this.serial(() => writeFileAtomic(this.checkpointFile, JSON.stringify(checkpoint)));
  }

  /**
   * The snapshot is written after the revisions it names were fsynced, so a log shorter than the
   * snapshot, or one that disagrees with it, lost acknowledged revisions: refuse to start on it.
   */
  private async checkSnapshot(): Promise<void> {
    const snapshot = await this.readJson<Snapshot | null>(this.snapshotFile, null);
    if (!snapshot) return;
    const problem =
      snapshot.head > this.revisions.length
        ? `has ${this.revisions.length} revisions but ${this.snapshotFile} shows ${snapshot.head} were written`
        : Object.entries(snapshot.layers).find(
              ([layer, revision]) => this.layerRevisionAt(layer, snapshot.head) !== revision,
            )
          ? `does not match ${this.snapshotFile} at revision ${snapshot.head}`
          : undefined;
    if (problem) {
      throw new CenterStartError(
        'CENTER_STORE_CORRUPT',
        `${this.logFile} ${problem}: acknowledged revisions are missing; restore the data directory from a backup`,
      );
    }
  }

  private layerRevisionAt(layer: string, head: number): number {
    for (let i = head - 1; i >= 0; i--) if (this.revisions[i]?.layer === layer) return i + 1;
    return 0;
  }

  private async writeSnapshot(): Promise<void> {
    const snapshot: Snapshot = { head: this.revisions.length, layers: Object.fromEntries(this.layerRevisions) };
    await writeFileAtomic(this.snapshotFile, JSON.stringify(snapshot));
  }

  private flushStatuses(): Promise<void> {
    return this.serial(() => writeFileAtomic(this.nodesFile, JSON.stringify([...this.statuses.values()])));
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async readJson<T>(file: string, fallback: T): Promise<T> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
      throw new CenterStartError(
        'CENTER_STORE_CORRUPT',
        `${file} is not valid JSON; restore it from a backup or delete it`,
        {
          cause: error,
        },
      );
    }
  }

  /** One center per data directory: a second one would interleave appends. */
  private async takeLock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockFile, String(process.pid), { flag: 'wx', mode: 0o600 });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = Number.parseInt(await readFile(this.lockFile, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
          this.started = false;
          throw new CenterStartError(
            'CENTER_DATA_DIR_LOCKED',
            `another center (pid ${pid}) uses ${this.options.dataDir}; stop it, or give this one another --data directory`,
          );
        }
        await unlink(this.lockFile).catch(() => undefined);
      }
    }
    throw new CenterStartError(
      'CENTER_DATA_DIR_LOCKED',
      `could not lock ${this.lockFile}; check the directory's permissions`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
