import {
  type DiffResponse,
  type RevisionListResponse,
  type RevisionSummary,
  type RollbackResponse,
  rollbackRequestSchema,
} from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import { CenterError } from '../errors.js';
import { jsonDiff } from '../json-diff.js';
import { assertLayerName, assertNodeName } from '../layer-name.js';
import { maskSecrets } from '../secret-mask.js';
import type { Revision } from '../types.js';
import { changeMessage } from './layer-routes.js';
import { authorOf, guard, parseBody, parseRevisionNumber, type RouteContext } from './route-context.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

function summary(revision: Revision, mask: boolean): RevisionSummary {
  const { document: _document, ...rest } = revision;
  return mask ? { ...rest, diff: maskSecrets(rest.diff) as Revision['diff'] } : rest;
}

/** History, diff between revisions, and rollback. */
export function registerRevisionRoutes(app: FastifyInstance, context: RouteContext): void {
  const { service } = context;
  const { state } = service;

  app.get('/v1/revisions', async (request) => {
    const token = await guard(context, request, 'config:read');
    const query = request.query as { layer?: string; node?: string; limit?: string };
    const limit = Math.min(parseRevisionNumber(query.limit, 'limit') ?? DEFAULT_LIMIT, MAX_LIMIT);
    let numbers: number[];
    if (query.layer !== undefined && query.node !== undefined) {
      throw new CenterError('CENTER_BAD_REQUEST', 'give either layer= or node=, not both');
    } else if (query.layer !== undefined) {
      const layer = assertLayerName(query.layer);
      numbers = state.revisions.filter((r) => r.layer === layer).map((r) => r.revision);
    } else if (query.node !== undefined) {
      numbers = state.view(assertNodeName(query.node)).history;
    } else {
      numbers = state.revisions.map((r) => r.revision);
    }
    const mask = mustMaskSecrets(token);
    const newest = numbers.slice(-Math.max(limit, 1)).reverse();
    return {
      head: state.head,
      revisions: newest.map((n) => summary(state.revision(n) as Revision, mask)),
    } satisfies RevisionListResponse;
  });

  app.get('/v1/revisions/:revision', async (request) => {
    const token = await guard(context, request, 'config:read');
    const number = parseRevisionNumber((request.params as { revision: string }).revision, 'the revision');
    const revision = number === undefined ? undefined : state.revision(number);
    if (!revision)
      throw new CenterError('CENTER_NOT_FOUND', `revision ${number} does not exist; the newest is ${state.head}`);
    return mustMaskSecrets(token) ? maskSecrets(revision) : revision;
  });

  app.get('/v1/diff', async (request) => {
    const token = await guard(context, request, 'config:read');
    const query = request.query as { from?: string; to?: string };
    const from = parseRevisionNumber(query.from, 'from') ?? 0;
    const to = parseRevisionNumber(query.to, 'to') ?? state.head;
    for (const [name, value] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (value > state.head)
        throw new CenterError(
          'CENTER_NOT_FOUND',
          `${name}=${value} does not exist; the newest revision is ${state.head}`,
        );
    }
    const layers = [...new Set([...state.layerNamesAt(from), ...state.layerNamesAt(to)])].sort();
    const layerDiffs = layers
      .map((layer) => ({
        layer,
        changes: jsonDiff(state.layerDocumentAt(layer, from) ?? {}, state.layerDocumentAt(layer, to) ?? {}),
      }))
      .filter((entry) => entry.changes.length > 0);
    const nodes = service.knownNodes();
    const nodeDiffs = nodes
      .map((node) => ({
        node,
        changes: jsonDiff(state.effectiveAt(node, from).config, state.effectiveAt(node, to).config),
      }))
      .filter((entry) => entry.changes.length > 0);
    const body: DiffResponse = { from, to, layers: layerDiffs, nodes: nodeDiffs };
    return mustMaskSecrets(token) ? maskSecrets(body) : body;
  });

  app.post('/v1/rollback', async (request, reply) => {
    const token = await guard(context, request, 'config:write');
    const rollback = parseBody(
      rollbackRequestSchema,
      request.body,
      () => 'the rollback request needs {"revision": <number>, "message": "why"}',
    );
    const target = state.revision(rollback.revision);
    if (!target) {
      throw new CenterError(
        'CENTER_NOT_FOUND',
        `revision ${rollback.revision} does not exist; the newest is ${state.head}`,
      );
    }
    const message = changeMessage(request, rollback.message) || `rollback to revision ${target.revision}`;
    const outcome = await service.write({
      layer: target.layer,
      kind: 'rollback',
      body: target.document,
      ifMatch: parseRevisionNumber(request.headers['if-match'], 'If-Match'),
      author: authorOf(token),
      message,
      restoredFrom: target.revision,
    });
    if (outcome.revision) {
      context.metrics.observeWrite();
      context.logger.info(
        {
          event: 'center.rolled_back',
          layer: target.layer,
          revision: outcome.revision.revision,
          restored_from: target.revision,
        },
        `${target.layer} restored to its content of revision ${target.revision}`,
      );
    }
    reply.header('etag', `"${outcome.layerRevision}"`);
    return {
      layer: target.layer,
      revision: outcome.layerRevision,
      restored_from: target.revision,
      changed: outcome.revision !== undefined,
      diff: outcome.revision?.diff ?? [],
      document: outcome.document,
    } satisfies RollbackResponse;
  });
}
