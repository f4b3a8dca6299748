import { apiJsonSchemas } from '@celeriac/config-schema';
import { ROLES } from './types.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errors = {
  '400': { description: 'VALIDATION_FAILED or BAD_REQUEST', ...json(ref('Error')) },
  '401': { description: 'UNAUTHORIZED: missing or unknown token', ...json(ref('Error')) },
  '403': { description: 'FORBIDDEN: the role may not do this', ...json(ref('Error')) },
  '404': { description: 'NOT_FOUND', ...json(ref('Error')) },
};
const layerParam = { name: 'layer', in: 'path', required: true, schema: ref('LayerName') };
const nodeParam = { name: 'node', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, schema: object) => ({ name, in: 'query', schema });
const object = { type: 'object' };
const boolean = { type: 'boolean' };
/** The answer of `GET /v1/whoami` (the console shows the role and hides what the token may not do). */
const whoAmI = {
  type: 'object',
  required: ['id', 'name', 'role', 'node', 'secrets_masked', 'may'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string', enum: ROLES },
    node: { type: ['string', 'null'], description: 'the node an agent token is bound to' },
    secrets_masked: boolean,
    may: {
      type: 'object',
      required: ['read_config', 'write_config', 'read_nodes', 'manage_tokens'],
      properties: { read_config: boolean, write_config: boolean, read_nodes: boolean, manage_tokens: boolean },
    },
  },
};

/** The OpenAPI 3.1 description of the center's API; component schemas come from the zod schemas. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const schemas = apiJsonSchemas();
  for (const schema of Object.values(schemas)) delete (schema as Record<string, unknown>).$schema;
  return {
    openapi: '3.1.0',
    info: { title: 'Celeriac config center', version },
    components: {
      schemas: { ...schemas, WhoAmI: whoAmI },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/layers': {
        get: { summary: 'List layers and their revisions', responses: { '200': json(object), ...errors } },
      },
      '/v1/layers/{layer}': {
        parameters: [layerParam],
        get: { summary: 'A layer document; ETag is its revision', responses: { '200': json(object), ...errors } },
        put: {
          summary: 'Replace a layer (If-Match: <revision>; X-Change-Message)',
          requestBody: json(ref('Layer')),
          responses: {
            '200': json(object),
            '201': json(object),
            '409': { description: 'CONFLICT: stale If-Match', ...json(ref('Error')) },
            '428': { description: 'PRECONDITION_REQUIRED: If-Match missing', ...json(ref('Error')) },
            ...errors,
          },
        },
        patch: {
          summary: 'Merge-patch a layer (null deletes a key)',
          requestBody: json(ref('Layer')),
          responses: { '200': json(object), '409': json(ref('Error')), '428': json(ref('Error')), ...errors },
        },
      },
      '/v1/nodes': {
        get: {
          summary: 'Every node: desired vs applied revision, drift, programs',
          responses: { '200': json(object), ...errors },
        },
      },
      '/v1/nodes/{node}': {
        parameters: [nodeParam],
        get: { summary: 'One node', responses: { '200': json(object), ...errors } },
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
            '200': json(ref('NodeConfigResponse')),
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
          responses: { '200': json(object), ...errors },
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
          responses: { '200': json(object), ...errors },
        },
      },
      '/v1/revisions/{revision}': {
        parameters: [{ name: 'revision', in: 'path', required: true, schema: { type: 'integer' } }],
        get: { summary: 'One revision with its document and diff', responses: { '200': json(object), ...errors } },
      },
      '/v1/diff': {
        get: {
          summary: 'Changes per layer and per node effective config between two revisions',
          parameters: [query('from', { type: 'integer' }), query('to', { type: 'integer' })],
          responses: { '200': json(object), ...errors },
        },
      },
      '/v1/rollback': {
        post: {
          summary: 'Restore a layer to its content at a revision',
          requestBody: json(ref('RollbackRequest')),
          responses: { '200': json(object), ...errors },
        },
      },
      '/v1/tokens': {
        get: { summary: 'List tokens (admin)', responses: { '200': json(object), ...errors } },
        post: {
          summary: 'Create a token; the secret is shown once (admin)',
          requestBody: json(ref('TokenRequest')),
          responses: { '201': json(object), ...errors },
        },
      },
      '/v1/tokens/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        delete: { summary: 'Revoke a token (admin)', responses: { '200': json(object), ...errors } },
      },
      '/v1/whoami': {
        get: {
          summary: 'The token in use: id, name, role, bound node, whether secrets are masked, what it may do',
          responses: { '200': json(ref('WhoAmI')), '401': errors['401'] },
        },
      },
      '/healthz': { get: { security: [], summary: 'Liveness', responses: { '200': json(object) } } },
      '/metrics': {
        get: { security: [], summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain' } } },
      },
      '/v1/openapi.json': { get: { security: [], summary: 'This document', responses: { '200': json(object) } } },
    },
  };
}
