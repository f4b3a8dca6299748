import type { FastifyInstance, FastifyReply } from 'fastify';
import { authorize, mustMaskSecrets, type Permission } from '../access-policy.js';
import { CONSOLE_CONTENT_SECURITY_POLICY, CONSOLE_HTML } from '../console/console-page.js';
import type { RouteContext } from './route-context.js';

function sendConsole(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(CONSOLE_HTML);
}

/**
 * The web console at `/` and `/console` (no token needed: the page asks for one and calls the
 * `/v1` API with it), and `GET /v1/whoami`, which tells the page the role of its token.
 */
export function registerConsoleRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/', async (_request, reply) => sendConsole(reply));
  app.get('/console', async (_request, reply) => sendConsole(reply));

  app.get('/v1/whoami', async (request) => {
    const token = await context.tokens.authenticate(request.headers.authorization);
    const may = (permission: Permission): boolean => {
      try {
        authorize(token, permission, token.node);
        return true;
      } catch {
        return false;
      }
    };
    return {
      id: token.id,
      name: token.name,
      role: token.role,
      node: token.node ?? null,
      secrets_masked: mustMaskSecrets(token),
      may: {
        read_config: may('config:read'),
        write_config: may('config:write'),
        read_nodes: may('nodes:read'),
        manage_tokens: may('tokens:manage'),
      },
    };
  });
}
