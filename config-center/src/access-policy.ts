import { CenterError } from './errors.js';
import type { Role, TokenRecord } from './types.js';

/** What a request wants to do. */
export type Permission =
  | 'config:read'
  | 'config:write'
  | 'node-config:read'
  | 'status:write'
  | 'nodes:read'
  | 'tokens:manage';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set<Permission>([
    'config:read',
    'config:write',
    'node-config:read',
    'status:write',
    'nodes:read',
    'tokens:manage',
  ]),
  operator: new Set<Permission>(['config:read', 'config:write', 'node-config:read', 'nodes:read']),
  viewer: new Set<Permission>(['config:read', 'node-config:read', 'nodes:read']),
  agent: new Set<Permission>(['node-config:read', 'status:write']),
};

/** Throws 403 unless the token's role grants `permission` (for an agent token: only for its own node). */
export function authorize(token: TokenRecord, permission: Permission, node?: string): void {
  if (!GRANTS[token.role].has(permission)) {
    throw new CenterError(
      'CENTER_FORBIDDEN',
      `a ${token.role} token may not do this (${permission}); use a token with a role that may`,
    );
  }
  if (token.role === 'agent' && (node === undefined || token.node !== node)) {
    throw new CenterError(
      'CENTER_FORBIDDEN',
      `this agent token is bound to node "${token.node ?? '?'}" and may only read that node's config and report its status`,
    );
  }
}

/** Whether secrets in configs must be masked for this token. */
export function mustMaskSecrets(token: TokenRecord): boolean {
  return token.role === 'viewer';
}
