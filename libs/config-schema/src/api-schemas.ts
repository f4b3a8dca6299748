import { z } from 'zod';
import { celerySettingsDoc, effectiveConfigDoc, layerDoc, programDoc } from './api-doc-schemas.js';
import {
  authorSchema,
  diffResponseSchema,
  healthResponseSchema,
  layerListResponseSchema,
  layerResponseSchema,
  layerWriteResponseSchema,
  nodeListResponseSchema,
  nodeSummarySchema,
  revisionListResponseSchema,
  revisionSchema,
  rollbackResponseSchema,
  statusReportResponseSchema,
  tokenCreatedResponseSchema,
  tokenListResponseSchema,
  tokenRevokedResponseSchema,
  tokenViewSchema,
  whoAmIResponseSchema,
} from './api-responses.js';
import { TOKEN_ROLES } from './api-roles.js';
import { effectiveConfigSchema } from './effective-config-schema.js';
import { layerNameSchema, nodeNameSchema } from './names.js';
import { nodeStatusSchema } from './node-status-schema.js';

export { TOKEN_ROLES, type TokenRole } from './api-roles.js';

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

/**
 * Every code of the center's error answers, with the HTTP status it is sent with. Part of the API:
 * the CLI, the web console and agents match on these codes.
 */
export const CENTER_ERROR_STATUS = {
  CENTER_VALIDATION_FAILED: 400,
  CENTER_BAD_REQUEST: 400,
  CENTER_DOCUMENT_TOO_DEEP: 400,
  CENTER_UNAUTHORIZED: 401,
  CENTER_FORBIDDEN: 403,
  CENTER_NOT_FOUND: 404,
  CENTER_REQUEST_TIMEOUT: 408,
  CENTER_CONFLICT: 409,
  CENTER_PAYLOAD_TOO_LARGE: 413,
  CENTER_UNSUPPORTED_MEDIA_TYPE: 415,
  CENTER_PRECONDITION_REQUIRED: 428,
  CENTER_INTERNAL: 500,
  CENTER_SERVICE_UNAVAILABLE: 503,
} as const;

/** A code of the center's error answers. */
export type CenterErrorCode = keyof typeof CENTER_ERROR_STATUS;

/** Every code of the center's error answers. */
export const CENTER_ERROR_CODES = Object.keys(CENTER_ERROR_STATUS) as CenterErrorCode[];

/** One problem of a refused body; `node` is set when it is in the merged config of that node. */
export const issueSchema = z.object({ path: z.string(), message: z.string(), node: z.string().optional() });

/** Every error answer of the center. */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.enum(CENTER_ERROR_CODES as [CenterErrorCode, ...CenterErrorCode[]]),
    message: z.string(),
    issues: z.array(issueSchema).optional(),
    current_revision: z.number().int().optional(),
  }),
});

export type ValidationIssueBody = z.infer<typeof issueSchema>;
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

const JSON_SCHEMA_OPTIONS = { io: 'output', unrepresentable: 'any' } as const;
const INPUT_SCHEMA_OPTIONS = { io: 'input', unrepresentable: 'any' } as const;

/** JSON Schemas (draft 2020-12) of the API bodies and answers, for the center's /v1/openapi.json. */
export function apiJsonSchemas(): Record<string, unknown> {
  const bodies: Record<string, z.ZodType> = {
    Layer: layerDoc,
    LayerName: layerNameSchema,
    EffectiveConfig: effectiveConfigDoc,
    Program: programDoc,
    CelerySettings: celerySettingsDoc,
    NodeStatus: nodeStatusSchema,
    NodeConfigResponse: nodeConfigResponseSchema.extend({ config: effectiveConfigDoc }),
    RollbackRequest: rollbackRequestSchema,
    TokenRequest: tokenRequestSchema,
  };
  const answers: Record<string, z.ZodType> = {
    Error: errorResponseSchema,
    Author: authorSchema,
    LayerList: layerListResponseSchema,
    LayerResponse: layerResponseSchema,
    LayerWriteResponse: layerWriteResponseSchema,
    RollbackResponse: rollbackResponseSchema,
    Revision: revisionSchema,
    RevisionList: revisionListResponseSchema,
    DiffResponse: diffResponseSchema,
    StatusReportResponse: statusReportResponseSchema,
    NodeSummary: nodeSummarySchema,
    NodeList: nodeListResponseSchema,
    Token: tokenViewSchema,
    TokenCreated: tokenCreatedResponseSchema,
    TokenList: tokenListResponseSchema,
    TokenRevoked: tokenRevokedResponseSchema,
    WhoAmI: whoAmIResponseSchema,
    Health: healthResponseSchema,
  };
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(bodies)) out[name] = z.toJSONSchema(schema, INPUT_SCHEMA_OPTIONS);
  for (const [name, schema] of Object.entries(answers)) out[name] = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS);
  return out;
}
