import { type NodeSelector, nodeStatusSchema, parseSelector, type StatusReportResponse } from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import { ConfigLongPolls } from '../config-long-poll.js';
import { CenterError } from '../errors.js';
import { type EventStream, EventStreams } from '../event-stream.js';
import { assertNodeName } from '../layer-name.js';
import { NodeFeed, nodeSummaries } from '../node-feed.js';
import { servedPlacement, summarizeNode } from '../node-summary.js';
import { maskSecrets } from '../secret-mask.js';
import { guard, parseBody, parseRevisionNumber, type RouteContext } from './route-context.js';

/**
 * Node config (long-poll), status reports and the node list: GET /v1/nodes, and GET /v1/nodes/stream
 * with the same parameters as server-sent events (a `nodes` event with the same answer at once, then
 * a `nodes_changed` event with the summaries that changed, see NodeFeed).
 */
export function registerNodeRoutes(app: FastifyInstance, context: RouteContext): void {
  const { service } = context;
  const longPolls = new ConfigLongPolls(service, context.hub, context.metrics, context.logger);
  const streams = new EventStreams({ lifetimeMs: context.maxWaitMs });
  const feed = new NodeFeed(service, { fallbackStaleAfterMs: context.staleAfterMs, logger: context.logger });
  app.addHook('preClose', async () => {
    feed.close();
    streams.closeAll();
  });

  app.get('/v1/nodes/:node/config', async (request, reply) => {
    const raw = (request.params as { node: string }).node;
    const token = await guard(context, request, 'node-config:read', raw);
    const node = assertNodeName(raw);
    const query = request.query as { after?: string; wait?: string };
    const after = parseRevisionNumber(query.after, 'after');
    let waitMs = 0;
    if (query.wait !== undefined && query.wait !== '') {
      const seconds = Number(query.wait);
      if (!Number.isFinite(seconds) || seconds < 0) {
        throw new CenterError(
          'CENTER_BAD_REQUEST',
          `wait must be a number of seconds of 0 or more, not ${JSON.stringify(query.wait.slice(0, 40))}`,
        );
      }
      waitMs = Math.min(seconds * 1000, context.maxWaitMs);
    }
    // Thousands are held and answered at once: answered on the raw response, not through
    // fastify's reply pipeline (onResponse hooks still run when the response finishes).
    reply.hijack();
    longPolls.serve(reply.raw, { node, after, waitMs, mask: mustMaskSecrets(token) });
  });

  app.post('/v1/nodes/:node/status', async (request) => {
    const raw = (request.params as { node: string }).node;
    await guard(context, request, 'status:write', raw);
    const node = assertNodeName(raw);
    const status = parseBody(
      nodeStatusSchema,
      request.body,
      (issues) => `the status report of ${node} was refused: ${issues.length} problem(s), listed in "issues"`,
    );
    const record = await service.reportStatus(node, status as Record<string, unknown>);
    context.healthHistory.record(node, status, Date.parse(record.received_at));
    feed.poke();
    const view = service.servedView(node);
    return {
      node,
      received_at: record.received_at,
      desired_revision: view.revision,
      desired_hash: view.hash,
    } satisfies StatusReportResponse;
  });

  app.get('/v1/nodes', async (request) => {
    const token = await guard(context, request, 'nodes:read');
    const selector = selectorOf((request.query as { selector?: unknown }).selector);
    const statuses = await service.statuses();
    const nodes = nodeSummaries(service, selector, statuses, context.staleAfterMs, Date.now());
    // Agents' messages may quote URLs with passwords.
    return { nodes: mustMaskSecrets(token) ? maskSecrets(nodes) : nodes };
  });

  // A static route: fastify takes it before /v1/nodes/:node, so "stream" is never taken for a node.
  app.get('/v1/nodes/stream', async (request, reply) => {
    const token = await guard(context, request, 'nodes:read');
    const selectorText = (request.query as { selector?: unknown }).selector;
    const selector = selectorOf(selectorText);
    const opened: { stream?: EventStream } = {};
    // The first list is sent from inside subscribe: a 400 or a store that does not answer is still an ordinary error answer.
    const unsubscribe = await feed.subscribe(
      { selectorText: typeof selectorText === 'string' ? selectorText : '', selector, masked: mustMaskSecrets(token) },
      (event, json) => {
        opened.stream ??= streams.start(reply);
        opened.stream.send(event, json);
      },
    );
    if (opened.stream) opened.stream.onClose(unsubscribe);
    else unsubscribe();
  });

  app.get('/v1/nodes/:node', async (request) => {
    const token = await guard(context, request, 'nodes:read');
    const node = assertNodeName((request.params as { node: string }).node);
    const statuses = await service.statuses();
    if (!service.knownNodes().includes(node)) {
      throw new CenterError(
        'CENTER_NOT_FOUND',
        `node ${node} is unknown: it has no layer and its agent never reported; check the name`,
      );
    }
    const summary = summarizeNode(
      service.state,
      node,
      statuses.get(node),
      context.staleAfterMs,
      Date.now(),
      servedPlacement(service, node),
    );
    return mustMaskSecrets(token) ? maskSecrets(summary) : summary;
  });
}

/** The `selector` query parameter, parsed; a bad one is a 400 that says the syntax. */
export function selectorOf(value: unknown): NodeSelector | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new CenterError('CENTER_BAD_REQUEST', 'give selector once, as one string');
  const parsed = parseSelector(value);
  if (!parsed.ok) throw new CenterError('CENTER_BAD_REQUEST', parsed.message);
  return parsed.selector;
}
