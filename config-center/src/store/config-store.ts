import type { StateCheckpoint } from '../state-checkpoint.js';
import type { NodeStatusRecord, Revision, RevisionDraft, TokenRecord } from '../types.js';

/** What a compare-and-append expects to find. */
export interface AppendExpectation {
  /** Revision of the layer's last change; 0 when the layer must not exist yet. */
  layerRevision: number;
  /** The newest revision the writer validated against; the append is refused when the log moved past it. */
  headRevision: number;
}

/** Outcome of a compare-and-append. */
export type AppendResult =
  | { ok: true; revision: Revision }
  | { ok: false; reason: 'layer_conflict'; currentLayerRevision: number }
  | { ok: false; reason: 'head_moved'; headRevision: number };

/**
 * Where the center keeps revisions, tokens and node statuses. Revision numbers start at 1 and have
 * no gaps. Implementations: `FileStore` (embedded, default) and `RedisStore` (shared by replicas).
 */
export interface ConfigStore {
  /** A short description for logs, with any password redacted. */
  readonly description: string;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Revisions with a number greater than `afterRevision`, oldest first. */
  readRevisions(afterRevision: number): Promise<Revision[]>;
  /** Appends `draft` as the next revision if both expectations hold, atomically. */
  append(draft: RevisionDraft, expect: AppendExpectation): Promise<AppendResult>;
  /** Called with the newest revision number whenever any writer (also another replica) appended. */
  onAppend(listener: (headRevision: number) => void): void;

  listTokens(): Promise<TokenRecord[]>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** Creates or replaces the token with this id. */
  putToken(token: TokenRecord): Promise<void>;
  /** Resolves to whether a token was deleted. */
  deleteToken(id: string): Promise<boolean>;
  /** Finds a token by the sha256 (hex) of its secret. */
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;

  putNodeStatus(record: NodeStatusRecord): Promise<void>;
  listNodeStatuses(): Promise<NodeStatusRecord[]>;

  /**
   * Log compaction, where the store supports it: the last checkpoint of the materialised state,
   * so that a start restores it and replays only the revisions after it.
   */
  readCheckpoint?(): Promise<StateCheckpoint | undefined>;
  writeCheckpoint?(checkpoint: StateCheckpoint): Promise<void>;
}
