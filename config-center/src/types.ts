import type { Revision as RevisionSchemaType, TokenRole, TokenView } from '@celeriac/config-schema';
import { TOKEN_ROLES } from '@celeriac/config-schema';

// The API's shapes come from config-schema (one source, shared with the CLI); these are the
// center's names for them, plus what only the store keeps.
export type { Author, DiffEntry, RevisionKind } from '@celeriac/config-schema';

/** Roles a bearer token can have. */
export type Role = TokenRole;

/** Every role, in order of power. */
export const ROLES: readonly Role[] = TOKEN_ROLES;

/** An immutable accepted write (the whole layer document after it in `document`). */
export type Revision = RevisionSchemaType;

/** A revision before the store numbered it. */
export type RevisionDraft = Omit<Revision, 'revision'>;

/** A stored token: the API's view of it plus the sha256 of the secret (the secret itself is never kept). */
export interface TokenRecord extends TokenView {
  /** sha256 of the token, hex. */
  hash: string;
}

/** The last status an agent reported for its node. */
export interface NodeStatusRecord {
  node: string;
  received_at: string;
  status: Record<string, unknown>;
}
