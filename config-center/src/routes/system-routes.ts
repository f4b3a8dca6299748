import type { HealthResponse } from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { summarizeNode } from '../node-summary.js';
import { buildOpenApiDocument } from '../openapi.js';
import type { RouteContext } from './route-context.js';

/** How long /metrics reuses its count of nodes by state (while no revision is added). */
const NODE_COUNT_TTL_MS = 1000;

/** /healthz, /metrics and /v1/openapi.json: no token needed, nothing secret in them. */
export function registerSystemRoutes(app: FastifyInstance, context: RouteContext, version: string): void {
  let openApi: string | undefined;

  app.get('/healthz', async () => ({ status: 'ok', revision: context.service.state.head }) satisfies HealthResponse);

  // Counting nodes by state summarises every node: with thousands, a scrape would hold the event
  // loop (and the long-poll fan-out) for tens of milliseconds, so the count is kept for a second.
  let counted: { at: number; head: number; nodesByState: Record<string, number> } | undefined;
  const nodesByState = async (): Promise<Record<string, number>> => {
    const now = Date.now();
    if (counted && now - counted.at < NODE_COUNT_TTL_MS && counted.head === context.service.state.head) {
      return counted.nodesByState;
    }
    const statuses = await context.service.statuses();
    const counts: Record<string, number> = {};
    for (const node of context.service.knownNodes()) {
      const { state } = summarizeNode(context.service.state, node, statuses.get(node), context.staleAfterMs, now);
      counts[state] = (counts[state] ?? 0) + 1;
    }
    counted = { at: now, head: context.service.state.head, nodesByState: counts };
    return counts;
  };

  app.get('/metrics', async (_request, reply) => {
    const byState = await nodesByState();
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return context.metrics.render({
      longPollsHeld: context.hub.held,
      revisions: context.service.state.head,
      nodesByState: byState,
    });
  });

  app.get('/v1/openapi.json', async (_request, reply) => {
    openApi ??= JSON.stringify(buildOpenApiDocument(version));
    reply.type('application/json; charset=utf-8');
    return openApi;
  });
}
