import { z } from 'zod';
import { celerySettingsDoc, effectiveConfigDoc, layerDoc, programDoc } from './api-doc-schemas.js';
import { effectiveConfigSchema } from './effective-config-schema.js';
import { layerNameSchema, nodeNameSchema } from './names.js';
import { nodeStatusSchema } from './node-status-schema.js';

/** Token roles. */
export const TOKEN_ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** POST /v1/rollback body: restore the content of `revision` as a new revision. */
export const rollbackRequestSchema = z.object({
  revision: z.number().int().positive(),
  message: z.string().min(1).max(1000).optional(),
});

/** POST /v1/tokens body; an agent token is bound to one node. */
export const tokenRequestSchema = z
  .object({ role: z.enum(TOKEN_ROLES), node: nodeNameSchema.optional(), note: z.string().max(200).optional() })
  .refine((body) => body.role !== 'agent' || body.node !== undefined, {
    error: 'an agent token needs "node": the node it may read and report for',
    path: ['node'],
  });

/** GET /v1/nodes/<node>/config answer. */
export const nodeConfigResponseSchema = z.object({
  node: nodeNameSchema,
  revision: z.number().int().min(0),
  hash: z.string(),
  config: effectiveConfigSchema,
});

/** One problem of a refused body. */
export const issueSchema = z.object({ path: z.string(), message: z.string() });

/** Every error answer of the center. */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(issueSchema).optional(),
    current_revision: z.number().int().optional(),
  }),
});

const JSON_SCHEMA_OPTIONS = { io: 'input', unrepresentable: 'any' } as const;

/** JSON Schemas (draft 2020-12) of the API bodies, for the center's /v1/openapi.json. */
export function apiJsonSchemas(): Record<string, unknown> {
  const schemas: Record<string, z.ZodType> = {
    Layer: layerDoc,
    LayerName: layerNameSchema,
    EffectiveConfig: effectiveConfigDoc,
    Program: programDoc,
    CelerySettings: celerySettingsDoc,
    NodeStatus: nodeStatusSchema,
    NodeConfigResponse: nodeConfigResponseSchema.extend({ config: effectiveConfigDoc }),
    RollbackRequest: rollbackRequestSchema,
    TokenRequest: tokenRequestSchema,
    Error: errorResponseSchema,
  };
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(schemas)) out[name] = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS);
  return out;
}
