import {
  apiJsonSchemas,
  CENTER_ERROR_CODES,
  CENTER_ERROR_STATUS,
  impactPreviewResponseSchema,
} from '@celeriac/config-schema';
import { z } from 'zod';
import { healthHistoryResponseSchema } from './health-history-schema.js';
import { rolloutJsonSchemas } from './rollout/rollout-record-doc.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const answer = (name: string) => json(ref(name));

/** The error codes sent with one HTTP status, for the description of that answer. */
function codesWith(status: number): string {
  return CENTER_ERROR_CODES.filter((code) => CENTER_ERROR_STATUS[code] === status).join(' or ');
}

const errorAnswer = (status: number, what: string) => ({
  description: `${codesWith(status)}: ${what}`,
  ...answer('Error'),
});
const errors = {
  '400': errorAnswer(400, 'the body, a parameter or the document is refused (see "issues")'),
  '401': errorAnswer(401, 'missing or unknown token'),
  '403': errorAnswer(403, 'the role may not do this'),
  '404': errorAnswer(404, 'no such layer, node, revision or path'),
};
const writeErrors = {
  ...errors,
  '409': errorAnswer(409, 'stale If-Match: the layer changed; current_revision says to what'),
  '428': errorAnswer(428, 'If-Match missing on an existing layer'),
};
const layerParam = { name: 'layer', in: 'path', required: true, schema: ref('LayerName') };
const nodeParam = { name: 'node', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, schema: object) => ({ name, in: 'query', schema });

/** The OpenAPI 3.1 description of the center's API; component schemas come from the zod schemas in config-schema. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    ...apiJsonSchemas(),
    ImpactPreview: z.toJSONSchema(impactPreviewResponseSchema, { io: 'output' }),
    HealthHistory: z.toJSONSchema(healthHistoryResponseSchema, { io: 'output' }),
    ...rolloutJsonSchemas(),
  };
  for (const schema of Object.values(schemas)) delete (schema as Record<string, unknown>).$schema;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Celeriac config center',
      version,
      description: `Errors are { "error": { "code", "message", "issues"?, "current_revision"? } } with one of the codes ${CENTER_ERROR_CODES.join(', ')}.`,
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/layers': {
        get: { summary: 'List layers and their revisions', responses: { '200': answer('LayerList'), ...errors } },
      },
      '/v1/layers/{layer}': {
        parameters: [layerParam],
        get: {
          summary: 'A layer document; ETag is its revision',
          responses: { '200': answer('LayerResponse'), ...errors },
        },
        put: {
          summary: 'Replace a layer (If-Match: <revision>; X-Change-Message)',
          requestBody: json(ref('Layer')),
          responses: { '200': answer('LayerWriteResponse'), '201': answer('LayerWriteResponse'), ...writeErrors },
        },
        patch: {
          summary: 'Merge-patch a layer (null deletes a key)',
          requestBody: json(ref('Layer')),
          responses: { '200': answer('LayerWriteResponse'), ...writeErrors },
        },
      },
      '/v1/nodes': {
        get: {
          summary: 'Every node (or those a selector picks): desired vs applied revision, drift, labels, programs',
          parameters: [
            {
              name: 'selector',
              in: 'query',
              required: false,
              description: 'e.g. zone=eu,role=video|audio,!canary,node=web-*,group=video (every term must hold)',
              schema: { type: 'string' },
            },
          ],
          responses: { '200': answer('NodeList'), ...errors },
        },
      },
      '/v1/nodes/{node}': {
        parameters: [nodeParam],
        get: { summary: 'One node', responses: { '200': answer('NodeSummary'), ...errors } },
      },
      '/v1/nodes/{node}/config': {
        parameters: [
          nodeParam,
          query('after', { type: 'integer', minimum: 0 }),
          query('wait', { type: 'number', minimum: 0, maximum: 60 }),
        ],
        get: {
          summary: 'Effective config (long-poll with after and wait)',
          responses: {
            '200': answer('NodeConfigResponse'),
            '304': { description: 'no change within wait' },
            ...errors,
          },
        },
      },
      '/v1/nodes/{node}/status': {
        parameters: [nodeParam],
        post: {
          summary: 'Agent status report',
          requestBody: json(ref('NodeStatus')),
          responses: { '200': answer('StatusReportResponse'), ...errors },
        },
      },
      '/v1/revisions': {
        get: {
          summary: 'Revision history, newest first',
          parameters: [
            query('layer', { type: 'string' }),
            query('node', { type: 'string' }),
            query('limit', { type: 'integer' }),
          ],
          responses: { '200': answer('RevisionList'), ...errors },
        },
      },
      '/v1/revisions/{revision}': {
        parameters: [{ name: 'revision', in: 'path', required: true, schema: { type: 'integer' } }],
        get: {
          summary: 'One revision with its document and diff',
          responses: { '200': answer('Revision'), ...errors },
        },
      },
      '/v1/diff': {
        get: {
          summary: 'Changes per layer and per node effective config between two revisions',
          parameters: [query('from', { type: 'integer' }), query('to', { type: 'integer' })],
          responses: { '200': answer('DiffResponse'), ...errors },
        },
      },
      '/v1/preview': {
        post: {
          summary:
            'What a write would restart, per node and program, and how many workers stop at once; nothing is written. Same body, If-Match and errors as PUT/PATCH /v1/layers/{layer}',
          parameters: [
            { name: 'layer', in: 'query', required: true, schema: ref('LayerName') },
            query('kind', { type: 'string', enum: ['put', 'patch'], default: 'put' }),
          ],
          requestBody: json(ref('Layer')),
          responses: { '200': answer('ImpactPreview'), ...writeErrors },
        },
      },
      '/v1/rollback': {
        post: {
          summary: 'Restore a layer to its content at a revision',
          requestBody: json(ref('RollbackRequest')),
          responses: { '200': answer('RollbackResponse'), ...writeErrors },
        },
      },
      '/v1/health/history': {
        get: {
          summary:
            "Health the nodes reported over the window (at most one point per node per step_s), the selection's aggregate per step (summed tasks/s, failure ratio over every ended task, worst p95) and revision markers; with node=, that node's points too. Kept in memory by the center from the status reports it received (scope: replica); with the Redis store, replicas share their points through Redis, so every replica answers for the whole fleet (scope: shared)",
          parameters: [
            query('window', { type: 'integer', minimum: 1, maximum: 3600, default: 3600 }),
            query('node', { type: 'string' }),
            {
              name: 'selector',
              in: 'query',
              required: false,
              description: 'aggregate over the nodes it selects (same syntax as GET /v1/nodes); every node when absent',
              schema: { type: 'string' },
            },
          ],
          responses: { '200': answer('HealthHistory'), ...errors },
        },
      },
      '/v1/health/stream': {
        get: {
          summary:
            'The same answer as GET /v1/health/history, as server-sent events (text/event-stream): a `history` event at once and again whenever points or revisions were added (checked every second); a comment every 15 s keeps it open, and it ends after the long-poll maximum so the client authenticates again',
          parameters: [
            query('window', { type: 'integer', minimum: 1, maximum: 3600, default: 3600 }),
            query('node', { type: 'string' }),
            query('selector', { type: 'string' }),
          ],
          responses: {
            '200': {
              description: '`event: history` with a HealthHistory as JSON data',
              content: { 'text/event-stream': {} },
            },
            ...errors,
          },
        },
      },
      '/v1/nodes/stream': {
        get: {
          summary:
            'GET /v1/nodes as server-sent events (text/event-stream): a `nodes` event with the same answer at once, then a `nodes_changed` event, `{changed, removed}` (the summaries that changed, new nodes included, and the names no longer selected), when a node reported, turned stale or a write or rollout changed what it is served: at most one every 500 ms, and looked for at least every second. Streams with the same selector and masking share one serialised change; kept open and ended as /v1/health/stream. With the Redis store every replica reads the shared statuses, so a report through another replica shows within about a second',
          parameters: [query('selector', { type: 'string' })],
          responses: {
            '200': {
              description:
                '`event: nodes` with a NodeList as JSON data, then `event: nodes_changed` with `{changed: NodeSummary[], removed: string[]}`',
              content: { 'text/event-stream': {} },
            },
            ...errors,
          },
        },
      },
      '/v1/rollouts/stream': {
        get: {
          summary:
            'GET /v1/rollouts as server-sent events (text/event-stream): a `rollouts` event at once and after every change, on every replica (the driver writes, followers re-read the shared records); kept open and ended as /v1/health/stream',
          responses: {
            '200': {
              description: '`event: rollouts` with a RolloutList as JSON data',
              content: { 'text/event-stream': {} },
            },
            ...errors,
          },
        },
      },
      '/v1/rollouts': {
        get: {
          summary:
            'Every rollout, newest first (a write with a `rollout` policy, or under a layer with `default_rollout`, starts one), and `driving`: whether this replica drives rollouts (holds the lease; always true with one replica)',
          responses: { '200': answer('RolloutList'), ...errors },
        },
      },
      '/v1/rollouts/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: 'One rollout: its waves, the current wave, the last gate verdicts and its events',
          responses: { '200': answer('RolloutRecord'), ...errors },
        },
      },
      '/v1/rollouts/{id}/{command}': {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'command',
            in: 'path',
            required: true,
            schema: { type: 'string', enum: ['pause', 'resume', 'promote', 'abort'] },
          },
        ],
        post: {
          summary:
            'Pause, resume, promote (next wave once the whole wave was served) or abort (roll back) a rollout (operator); on a replica that does not drive rollouts the command is queued for the one that does',
          responses: {
            '200': answer('RolloutRecord'),
            ...errors,
            '409': errorAnswer(409, 'the rollout is in a state where the command does not apply'),
            '503': errorAnswer(503, 'no replica drives rollouts now (none took the command in time); retry'),
          },
        },
      },
      '/v1/tokens': {
        get: { summary: 'List tokens (admin)', responses: { '200': answer('TokenList'), ...errors } },
        post: {
          summary: 'Create a token; the secret is shown once (admin)',
          requestBody: json(ref('TokenRequest')),
          responses: { '201': answer('TokenCreated'), ...errors },
        },
      },
      '/v1/tokens/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        delete: { summary: 'Revoke a token (admin)', responses: { '200': answer('TokenRevoked'), ...errors } },
      },
      '/v1/whoami': {
        get: {
          summary: 'The token in use: id, name, role, bound node, whether secrets are masked, what it may do',
          responses: { '200': answer('WhoAmI'), '401': errors['401'] },
        },
      },
      '/healthz': { get: { security: [], summary: 'Liveness', responses: { '200': answer('Health') } } },
      '/metrics': {
        get: { security: [], summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain' } } },
      },
      '/v1/openapi.json': {
        get: { security: [], summary: 'This document', responses: { '200': json({ type: 'object' }) } },
      },
    },
  };
}
