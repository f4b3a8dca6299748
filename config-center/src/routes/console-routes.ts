import type { WhoAmIResponse } from '@celeriac/config-schema';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { authorize, mustMaskSecrets, type Permission } from '../access-policy.js';
import {
  CONSOLE_ASSET_PREFIX,
  CONSOLE_CONTENT_SECURITY_POLICY,
  type ConsoleAssets,
  consoleAssets,
} from '../console/console-assets.js';
import { CenterError } from '../errors.js';
import type { RouteContext } from './route-context.js';

function withConsoleHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer');
}

function sendPage(reply: FastifyReply, assets: ConsoleAssets): FastifyReply {
  return withConsoleHeaders(reply).type('text/html; charset=utf-8').send(assets.page);
}

/**
 * The web console at `/` and `/console` with its scripts and stylesheet under `/console/assets/`
 * (no token needed: the page asks for one and calls the `/v1` API with it), and `GET /v1/whoami`,
 * which tells the page the role of its token.
 */
export function registerConsoleRoutes(app: FastifyInstance, context: RouteContext): void {
  const assets = consoleAssets();
  app.get('/', async (_request, reply) => sendPage(reply, assets));
  app.get('/console', async (_request, reply) => sendPage(reply, assets));
  app.get(`${CONSOLE_ASSET_PREFIX}:file`, async (request, reply) => {
    const name = (request.params as { file: string }).file;
    const asset = assets.files.get(name);
    if (!asset) {
      throw new CenterError('CENTER_NOT_FOUND', `the console has no file ${JSON.stringify(name.slice(0, 80))}`);
    }
    return withConsoleHeaders(reply).type(asset.contentType).send(asset.body);
  });

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
    } satisfies WhoAmIResponse;
  });
}
