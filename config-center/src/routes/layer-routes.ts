import type {
  ImpactPreviewResponse,
  LayerListResponse,
  LayerResponse,
  LayerWriteResponse,
} from '@celeriac/config-schema';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import type { WriteRequest } from '../config-service.js';
import { CenterError } from '../errors.js';
import { assertLayerName } from '../layer-name.js';
import { rolloutOf } from '../rollout/rollout-routes.js';
import { maskSecrets } from '../secret-mask.js';
import type { RevisionKind, TokenRecord } from '../types.js';
import { authorOf, guard, parseRevisionNumber, type RouteContext } from './route-context.js';

const MAX_MESSAGE_CHARS = 1000;

/** The change message: `X-Change-Message` header, else a string `message` member of the body. */
export function changeMessage(request: FastifyRequest, bodyMessage: unknown): string {
  const header = request.headers['x-change-message'];
  const text = typeof header === 'string' ? header : typeof bodyMessage === 'string' ? bodyMessage : '';
  if (text.length > MAX_MESSAGE_CHARS) {
    throw new CenterError(
      'CENTER_BAD_REQUEST',
      `the change message has ${text.length} characters; keep it under ${MAX_MESSAGE_CHARS}`,
    );
  }
  return text;
}

/** GET/PUT/PATCH /v1/layers/<layer> and GET /v1/layers. */
export function registerLayerRoutes(app: FastifyInstance, context: RouteContext): void {
  const { service } = context;

  app.get('/v1/layers', async (request) => {
    await guard(context, request, 'config:read');
    return {
      layers: service.state
        .layerNames()
        .map((layer) => ({ layer, revision: service.state.layer(layer)?.revision ?? 0 })),
    } satisfies LayerListResponse;
  });

  app.get('/v1/layers/*', async (request, reply) => {
    const token = await guard(context, request, 'config:read');
    const layer = assertLayerName((request.params as { '*': string })['*']);
    const entry = service.state.layer(layer);
    if (!entry)
      throw new CenterError('CENTER_NOT_FOUND', `${layer} does not exist yet; create it with PUT /v1/layers/${layer}`);
    reply.header('etag', `"${entry.revision}"`);
    return {
      layer,
      revision: entry.revision,
      document: (mustMaskSecrets(token) ? maskSecrets(entry.document) : entry.document) as Record<string, unknown>,
    } satisfies LayerResponse;
  });

  /** A write's request as the service takes it: the body without its `message`, If-Match, author. */
  const writeRequest = (
    request: FastifyRequest,
    token: TokenRecord,
    layer: string,
    kind: RevisionKind,
  ): WriteRequest => {
    let body: unknown = request.body;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new CenterError(
        'CENTER_BAD_REQUEST',
        `the body must be a JSON object (the ${kind === 'put' ? 'layer document' : 'merge patch'})`,
      );
    }
    let bodyMessage: unknown;
    if (typeof (body as Record<string, unknown>).message === 'string') {
      const { message, ...rest } = body as Record<string, unknown>;
      bodyMessage = message;
      body = rest;
    }
    const rollout = rolloutOf(body as Record<string, unknown>);
    if (rollout) body = rollout.rest;
    return {
      layer,
      kind,
      body,
      ifMatch: parseRevisionNumber(request.headers['if-match'], 'If-Match'),
      author: authorOf(token),
      message: changeMessage(request, bodyMessage),
      ...(rollout ? { rollout: rollout.policy } : {}),
    };
  };

  const write = (kind: RevisionKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const token = await guard(context, request, 'config:write');
    const layer = assertLayerName((request.params as { '*': string })['*']);
    const outcome = await service.write(writeRequest(request, token, layer, kind));
    if (outcome.revision) {
      context.metrics.observeWrite();
      context.logger.info(
        {
          event: 'center.layer_written',
          layer,
          revision: outcome.revision.revision,
          kind,
          author: outcome.revision.author.name,
          changes: outcome.revision.diff.length,
        },
        `${layer} is now at revision ${outcome.revision.revision}`,
      );
    }
    reply.header('etag', `"${outcome.layerRevision}"`);
    reply.code(outcome.created ? 201 : 200);
    return {
      layer,
      revision: outcome.layerRevision,
      changed: outcome.revision !== undefined,
      diff: outcome.revision?.diff ?? [],
      document: outcome.document,
    } satisfies LayerWriteResponse;
  };

  // The same body, If-Match and checks as PUT/PATCH /v1/layers/<layer>, but nothing is written.
  app.post('/v1/preview', async (request) => {
    const token = await guard(context, request, 'config:write');
    const query = request.query as { layer?: unknown; kind?: unknown };
    if (typeof query.layer !== 'string' || query.layer === '') {
      throw new CenterError(
        'CENTER_BAD_REQUEST',
        'name the layer to preview: POST /v1/preview?layer=<layer>[&kind=put|patch] with the body you would write',
      );
    }
    const layer = assertLayerName(query.layer);
    const kind = query.kind ?? 'put';
    if (kind !== 'put' && kind !== 'patch') {
      throw new CenterError(
        'CENTER_BAD_REQUEST',
        `kind must be put (the whole document) or patch (a merge patch), not ${JSON.stringify(String(kind).slice(0, 20))}`,
      );
    }
    const preview = await service.preview(writeRequest(request, token, layer, kind));
    return mustMaskSecrets(token) ? (maskSecrets(preview) as ImpactPreviewResponse) : preview;
  });

  app.put('/v1/layers/*', write('put'));
  app.patch('/v1/layers/*', write('patch'));
}
