import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CenterError, CenterStartError } from './errors.js';
import type { ConfigStore } from './store/config-store.js';
import type { Role, TokenRecord } from './types.js';

/** Id of the first admin token (from CELERIAC_ADMIN_TOKEN, --admin-token-file, or generated). */
export const BOOTSTRAP_TOKEN_ID = 'admin-bootstrap';

/** sha256 (hex) of a token: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates, checks and revokes bearer tokens; only their hashes are stored. */
export class TokenService {
  constructor(private readonly store: ConfigStore) {}

  /** Resolves the `Authorization: Bearer <token>` header to its token record, or throws 401. */
  async authenticate(header: string | undefined): Promise<TokenRecord> {
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new CenterError(
        'CENTER_UNAUTHORIZED',
        'this request needs "Authorization: Bearer <token>"; ask an admin for a token (celeriac center prints the first one)',
      );
    }
    const presented = Buffer.from(hashToken(match[1] as string), 'hex');
    const record = await this.store.findTokenByHash(presented.toString('hex'));
    const stored = record ? Buffer.from(record.hash, 'hex') : Buffer.alloc(presented.length);
    const equal = stored.length === presented.length && timingSafeEqual(stored, presented);
    if (!record || !equal) {
      throw new CenterError('CENTER_UNAUTHORIZED', 'the bearer token is unknown or was revoked; use a valid token');
    }
    return record;
  }

  /** Creates a token; the secret is returned here and never again. */
  async create(input: { role: Role; node?: string; name?: string }): Promise<{ token: string; record: TokenRecord }> {
    const token = `cel_${randomBytes(32).toString('base64url')}`;
    const id = `tok_${randomBytes(6).toString('hex')}`;
    const record: TokenRecord = {
      id,
      name: input.name ?? (input.role === 'agent' ? `agent:${input.node}` : input.role),
      role: input.role,
      hash: hashToken(token),
      created_at: new Date().toISOString(),
    };
    if (input.node !== undefined) record.node = input.node;
    await this.store.putToken(record);
    return { token, record };
  }

  /** Every token record (with hashes; routes strip them). */
  list(): Promise<TokenRecord[]> {
    return this.store.listTokens();
  }

  /** Revokes a token; resolves to whether it existed. */
  revoke(id: string): Promise<boolean> {
    return this.store.deleteToken(id);
  }

  /**
   * Makes sure a first admin token exists. With `secret` (from the environment or a file) that
   * secret becomes the bootstrap admin token; without it, one is generated when no admin token
   * exists yet and returned so that the caller prints it once.
   */
  async ensureBootstrapAdmin(secret: string | undefined): Promise<string | undefined> {
    if (secret !== undefined) {
      if (secret.trim().length < 16) {
        throw new CenterStartError(
          'CENTER_BAD_OPTION',
          'the admin token must have at least 16 characters; use a long random string',
        );
      }
      const hash = hashToken(secret.trim());
      const existing = await this.store.getToken(BOOTSTRAP_TOKEN_ID);
      if (existing?.hash !== hash) {
        await this.store.putToken({
          id: BOOTSTRAP_TOKEN_ID,
          name: 'bootstrap admin',
          role: 'admin',
          hash,
          created_at: new Date().toISOString(),
        });
      }
      return undefined;
    }
    const tokens = await this.store.listTokens();
    if (tokens.some((t) => t.role === 'admin')) return undefined;
    const token = `cel_${randomBytes(32).toString('base64url')}`;
    await this.store.putToken({
      id: BOOTSTRAP_TOKEN_ID,
      name: 'bootstrap admin',
      role: 'admin',
      hash: hashToken(token),
      created_at: new Date().toISOString(),
    });
    return token;
  }
}
