/** Roles a bearer token can have. */
export type Role = 'admin' | 'operator' | 'viewer' | 'agent';

/** Every role, in order of power. */
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer', 'agent'];

/** Who made a change: the token's id and name, and its role. */
export interface Author {
  token_id: string;
  name: string;
  role: Role;
}

/** One changed JSON path between two documents. */
export interface DiffEntry {
  path: string;
  before?: unknown;
  after?: unknown;
}

/** How a revision came to be. */
export type RevisionKind = 'put' | 'patch' | 'rollback';

/** An immutable accepted write. */
export interface Revision {
  revision: number;
  layer: string;
  kind: RevisionKind;
  author: Author;
  time: string;
  message: string;
  diff: DiffEntry[];
  /** The whole layer document after this revision. */
  document: Record<string, unknown>;
  /** For a rollback: the revision whose document was restored. */
  restored_from?: number;
}

/** A revision before the store numbered it. */
export type RevisionDraft = Omit<Revision, 'revision'>;

/** A stored token: only the sha256 of the secret is kept. */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  /** The node an agent token is bound to. */
  node?: string;
  /** sha256 of the token, hex. */
  hash: string;
  created_at: string;
}

/** The last status an agent reported for its node. */
export interface NodeStatusRecord {
  node: string;
  received_at: string;
  status: Record<string, unknown>;
}
