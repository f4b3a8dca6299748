import { z } from 'zod';
import { TOKEN_ROLES } from './api-roles.js';
import { nodeStatusSchema, programStatusSchema } from './node-status-schema.js';

/*
 * The answers of the center's HTTP API. The center builds them with these types, the CLI reads
 * them with these schemas, and /v1/openapi.json publishes them: one source for each contract.
 * Unknown members are dropped when parsed, so an older CLI keeps working with a newer center.
 */

const revisionNumber = z.number().int().min(0);
const layerDocument = z.record(z.string(), z.unknown());

/** Who made a change: the token's id and name, and its role. */
export const authorSchema = z.object({ token_id: z.string(), name: z.string(), role: z.enum(TOKEN_ROLES) });

/** One changed JSON path; `before` / `after` are absent when the key did not exist on that side. */
export const diffEntrySchema = z.object({
  path: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});

/** How a revision came to be. */
export const REVISION_KINDS = ['put', 'patch', 'rollback'] as const;

/** Where a write's rollout policy came from (config-center/src/rollout/resolve-policy.ts). */
export const ROLLOUT_POLICY_SOURCES = ['write', 'layer', 'bypassed', 'none'] as const;

/**
 * A write's rollout: its own policy (`write`), a layer's `default_rollout` (`layer`, naming it), or
 * none because the write sent `rollout: null` (`bypassed`, naming the layer whose default it skipped).
 * `policy` is the policy as applied (durations in ms).
 */
export const revisionRolloutSchema = z.object({
  source: z.enum(ROLLOUT_POLICY_SOURCES),
  layer: z.string().optional(),
  policy: z.record(z.string(), z.unknown()).optional(),
});

/** An accepted write without its document (history lists). */
export const revisionSummarySchema = z.object({
  revision: z.number().int().positive(),
  layer: z.string(),
  kind: z.enum(REVISION_KINDS),
  author: authorSchema,
  time: z.string(),
  message: z.string(),
  diff: z.array(diffEntrySchema),
  /** For a rollback: the revision whose document was restored. */
  restored_from: z.number().int().positive().optional(),
  /** Present when a rollout policy applied to the write or the write bypassed one. */
  rollout: revisionRolloutSchema.optional(),
});

/** GET /v1/revisions/<rev>: an immutable accepted write with the whole layer document after it. */
export const revisionSchema = revisionSummarySchema.extend({ document: layerDocument });

/** GET /v1/revisions: newest first. */
export const revisionListResponseSchema = z.object({ head: revisionNumber, revisions: z.array(revisionSummarySchema) });

/** GET /v1/layers. */
export const layerListResponseSchema = z.object({
  layers: z.array(z.object({ layer: z.string(), revision: revisionNumber })),
});

/** GET /v1/layers/<layer>: the document at the revision of its last change. */
export const layerResponseSchema = z.object({ layer: z.string(), revision: revisionNumber, document: layerDocument });

/** PUT / PATCH /v1/layers/<layer>: `changed` is false (and `diff` empty) when the content was the same. */
export const layerWriteResponseSchema = z.object({
  layer: z.string(),
  revision: revisionNumber,
  changed: z.boolean(),
  diff: z.array(diffEntrySchema),
  document: layerDocument,
});

/** POST /v1/rollback. */
export const rollbackResponseSchema = layerWriteResponseSchema.extend({ restored_from: z.number().int().positive() });

/** GET /v1/diff: changes per layer and per node's merged config between two revisions. */
export const diffResponseSchema = z.object({
  from: revisionNumber,
  to: revisionNumber,
  layers: z.array(z.object({ layer: z.string(), changes: z.array(diffEntrySchema) })),
  nodes: z.array(z.object({ node: z.string(), changes: z.array(diffEntrySchema) })),
});

/** POST /v1/nodes/<node>/status: what the center wants the node to run. */
export const statusReportResponseSchema = z.object({
  node: z.string(),
  received_at: z.string(),
  desired_revision: revisionNumber,
  desired_hash: z.string(),
});

/** A node's state as the center sees it. */
export const NODE_STATES = ['unknown', 'stale', 'failed', 'drift', 'pending', 'in_sync'] as const;

/** What GET /v1/nodes says about one node: desired vs applied revision, staleness, drift, programs. */
export const nodeSummarySchema = z.object({
  node: z.string(),
  has_layer: z.boolean(),
  groups: z.array(z.string()),
  /** The labels of its node layer (absent from centers older than labels). */
  labels: z.record(z.string(), z.string()).optional(),
  /** What the node is served now: behind `latest_revision` while a rollout holds it back. */
  desired_revision: revisionNumber,
  desired_hash: z.string(),
  /** The node's effective config at the head of the log (absent from older centers). */
  latest_revision: revisionNumber.optional(),
  latest_hash: z.string().optional(),
  /** The active rollout that decides what the node is served, and its wave (0-based); null when none. */
  rollout: z
    .object({ id: z.string(), wave: z.number().int().min(0), served: z.boolean() })
    .nullable()
    .optional(),
  applied_revision: revisionNumber.nullable(),
  attempted_revision: revisionNumber.nullable(),
  apply_result: z.string().nullable(),
  message: z.string().nullable(),
  last_seen: z.string().nullable(),
  /** Silence after which the node counts as stale (3 of its agent's heartbeats). */
  stale_after_ms: z.number().optional(),
  stale: z.boolean(),
  /** The applied config differs from the desired one, or the agent saw a hand edit. */
  drift: z.boolean(),
  state: z.enum(NODE_STATES),
  programs: z.record(z.string(), programStatusSchema.partial()),
  /** What the agent said about itself in its last report. */
  agent: nodeStatusSchema.shape.agent.nullable(),
  /** Fleet-wide limits the node's agent reported (absent when it reported none). */
  fleet_limits: nodeStatusSchema.shape.fleet_limits,
});

/** GET /v1/nodes. */
export const nodeListResponseSchema = z.object({ nodes: z.array(nodeSummarySchema) });

/** A token as the API shows it: never its secret or hash. */
export const tokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(TOKEN_ROLES),
  /** The node an agent token is bound to. */
  node: z.string().optional(),
  created_at: z.string(),
});

/** POST /v1/tokens: the secret, shown this once. */
export const tokenCreatedResponseSchema = tokenViewSchema.extend({ token: z.string() });

/** GET /v1/tokens. */
export const tokenListResponseSchema = z.object({ tokens: z.array(tokenViewSchema) });

/** DELETE /v1/tokens/<id>. */
export const tokenRevokedResponseSchema = z.object({ id: z.string(), revoked: z.literal(true) });

/** GET /v1/whoami: the token in use, and what it may do (the console hides the rest). */
export const whoAmIResponseSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(TOKEN_ROLES),
  node: z.string().nullable().describe('the node an agent token is bound to'),
  secrets_masked: z.boolean(),
  may: z.object({
    read_config: z.boolean(),
    write_config: z.boolean(),
    read_nodes: z.boolean(),
    manage_tokens: z.boolean(),
  }),
});

/** GET /healthz. */
export const healthResponseSchema = z.object({ status: z.literal('ok'), revision: revisionNumber });

export type Author = z.infer<typeof authorSchema>;
export type DiffEntry = z.infer<typeof diffEntrySchema>;
export type RevisionKind = (typeof REVISION_KINDS)[number];
export type RevisionSummary = z.infer<typeof revisionSummarySchema>;
export type Revision = z.infer<typeof revisionSchema>;
export type RevisionRollout = z.infer<typeof revisionRolloutSchema>;
export type RevisionListResponse = z.infer<typeof revisionListResponseSchema>;
export type LayerListResponse = z.infer<typeof layerListResponseSchema>;
export type LayerResponse = z.infer<typeof layerResponseSchema>;
export type LayerWriteResponse = z.infer<typeof layerWriteResponseSchema>;
export type RollbackResponse = z.infer<typeof rollbackResponseSchema>;
export type DiffResponse = z.infer<typeof diffResponseSchema>;
export type StatusReportResponse = z.infer<typeof statusReportResponseSchema>;
export type NodeState = (typeof NODE_STATES)[number];
export type NodeSummary = z.infer<typeof nodeSummarySchema>;
export type NodeListResponse = z.infer<typeof nodeListResponseSchema>;
export type TokenView = z.infer<typeof tokenViewSchema>;
export type TokenCreatedResponse = z.infer<typeof tokenCreatedResponseSchema>;
export type TokenListResponse = z.infer<typeof tokenListResponseSchema>;
export type TokenRevokedResponse = z.infer<typeof tokenRevokedResponseSchema>;
export type WhoAmIResponse = z.infer<typeof whoAmIResponseSchema>;
export type HealthResponse = z.infer<typeof healthResponseSchema>;
