import type { HealthResponse } from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { summarizeNode } from '../node-summary.js';
import { buildOpenApiDocument } from '../openapi.js';
import type { RouteContext } from './route-context.js';

/** /healthz, /metrics and /v1/openapi.json: no token needed, nothing secret in them. */
export function registerSystemRoutes(app: FastifyInstance, context: RouteContext, version: string): void {
  let openApi: string | undefined;

  app.get('/healthz', async () => ({ status: 'ok', revision: context.service.state.head }) satisfies HealthResponse);

  app.get('/metrics', async (_request, reply) => {
    const statuses = await context.service.statuses();
    const nodesByState: Record<string, number> = {};
    const now = Date.now();
    for (const node of context.service.knownNodes()) {
      const { state } = summarizeNode(context.service.state, node, statuses.get(node), context.staleAfterMs, now);
      nodesByState[state] = (nodesByState[state] ?? 0) + 1;
    }
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return context.metrics.render({
      longPollsHeld: context.hub.held,
      revisions: context.service.state.head,
      nodesByState,
    });
  });

  app.get('/v1/openapi.json', async (_request, reply) => {
    openApi ??= JSON.stringify(buildOpenApiDocument(version));
    reply.type('application/json; charset=utf-8');
    return openApi;
  });
}
