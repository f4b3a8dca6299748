import {
  type TokenCreatedResponse,
  type TokenListResponse,
  type TokenRevokedResponse,
  type TokenView,
  tokenRequestSchema,
} from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { CenterError } from '../errors.js';
import type { Role, TokenRecord } from '../types.js';
import { guard, parseBody, type RouteContext } from './route-context.js';

function publicView(token: TokenRecord): TokenView {
  const { hash: _hash, ...rest } = token;
  return rest;
}

/** POST/GET /v1/tokens and DELETE /v1/tokens/<id> (admin only). */
export function registerTokenRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post('/v1/tokens', async (request, reply) => {
    await guard(context, request, 'tokens:manage');
    const requested = parseBody(
      tokenRequestSchema,
      request.body,
      () => 'the token request was refused; it needs {"role", "node" (agents), "name"}',
    );
    const rawName = (request.body as { name?: unknown }).name;
    const name = typeof rawName === 'string' && rawName.length > 0 ? rawName.slice(0, 100) : requested.note;
    const input: { role: Role; node?: string; name?: string } = { role: requested.role };
    if (requested.node !== undefined) input.node = requested.node;
    if (name !== undefined) input.name = name;
    const { token, record } = await context.tokens.create(input);
    context.logger.info(
      { event: 'center.token_created', id: record.id, role: record.role, node: record.node },
      'token created',
    );
    reply.code(201);
    return { ...publicView(record), token } satisfies TokenCreatedResponse;
  });

  app.get('/v1/tokens', async (request) => {
    await guard(context, request, 'tokens:manage');
    return { tokens: (await context.tokens.list()).map(publicView) } satisfies TokenListResponse;
  });

  app.delete('/v1/tokens/:id', async (request) => {
    const caller = await guard(context, request, 'tokens:manage');
    const id = (request.params as { id: string }).id;
    if (id === caller.id) {
      throw new CenterError('CENTER_CONFLICT', 'a token cannot revoke itself; revoke it with another admin token');
    }
    if (!(await context.tokens.revoke(id)))
      throw new CenterError('CENTER_NOT_FOUND', `there is no token with id ${id}; list them with GET /v1/tokens`);
    context.logger.info({ event: 'center.token_revoked', id }, 'token revoked');
    return { id, revoked: true } satisfies TokenRevokedResponse;
  });
}
