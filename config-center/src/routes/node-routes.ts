import { type NodeSelector, nodeStatusSchema, parseSelector, type StatusReportResponse } from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import { CenterError } from '../errors.js';
import { assertNodeName } from '../layer-name.js';
import { ClientGone } from '../long-poll-hub.js';
import { summarizeNode } from '../node-summary.js';
import { maskSecrets } from '../secret-mask.js';
import { guard, parseBody, parseRevisionNumber, type RouteContext } from './route-context.js';

const serialized = new WeakMap<object, { revision: number; body: Buffer }>();

/**
 * The part of a config answer that nodes sharing an effective config share:
 * `,"revision":R,"hash":"H","config":{...}}` as UTF-8 bytes, built once per config object (a
 * write gives every node with equal layers one), so a fan-out to thousands of nodes serialises
 * and encodes each distinct config once; each answer only prepends `{"node":"<name>"`.
 */
function sharedAnswer(view: { revision: number; hash: string; config: Record<string, unknown> }): Buffer {
  const cached = serialized.get(view.config);
  if (cached?.revision === view.revision) return cached.body;
  const body = Buffer.from(
    `,"revision":${view.revision},"hash":${JSON.stringify(view.hash)},"config":${JSON.stringify(view.config)}}`,
  );
  serialized.set(view.config, { revision: view.revision, body });
  return body;
}

/** Node config (long-poll), status reports and the node list. */
export function registerNodeRoutes(app: FastifyInstance, context: RouteContext): void {
  const { service } = context;

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
    const gone = new ClientGone();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.cancel();
    };
    reply.raw.once('close', onClose);
    try {
      const view = await service.nodeConfig(node, after, waitMs, gone);
      if (after !== undefined && waitMs > 0) context.metrics.observeLongPoll(view ? 'changed' : 'timeout');
      if (!view) {
        reply.code(304);
        return reply.send();
      }
      reply.header('etag', `"${view.revision}"`);
      if (mustMaskSecrets(token)) {
        return { node, revision: view.revision, hash: view.hash, config: maskSecrets(view.config) };
      }
      // Pre-serialised: a change answers thousands of long-polls at once with one shared body.
      reply.type('application/json; charset=utf-8');
      return Buffer.concat([Buffer.from(`{"node":${JSON.stringify(node)}`), sharedAnswer(view)]);
    } finally {
      reply.raw.off('close', onClose);
    }
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
    const now = Date.now();
    const nodes = service
      .selectNodes(selector)
      .map((node) => summarizeNode(service.state, node, statuses.get(node), context.staleAfterMs, now));
    // Agents' messages may quote URLs with passwords.
    return { nodes: mustMaskSecrets(token) ? maskSecrets(nodes) : nodes };
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
    const summary = summarizeNode(service.state, node, statuses.get(node), context.staleAfterMs);
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
