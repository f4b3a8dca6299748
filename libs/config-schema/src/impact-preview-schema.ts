import { z } from 'zod';
import { diffEntrySchema, ROLLOUT_POLICY_SOURCES } from './api-responses.js';

/*
 * POST /v1/preview: what a write would restart, before anything is written. Computed by the center
 * from the same merged configs the write would serve and the agent's own change classification.
 */

const count = z.number().int().min(0);

/** One program of one node: the agent's action for it and what that takes out of service. */
export const programImpactSchema = z.object({
  kind: z.string(),
  action: z.enum(['start', 'restart', 'stop', 'scale', 'none']),
  /** Why, as the agent will log and report it, e.g. `task_annotations changed (tasks.add rate_limit 10/m → 10/s)`. */
  reasons: z.array(z.string()),
  replicas_before: count,
  replicas_after: count,
  /** Worker slots (task concurrency) of one process, before and after. */
  concurrency_before: count,
  concurrency_after: count,
  /**
   * Processes that stop taking tasks at the same moment: on a rolling restart every old replica is
   * drained together once all their replacements are ready; on a stop or a scale down, those removed.
   */
  processes_out_at_once: count,
  /** The same in worker slots (processes × concurrency). */
  worker_slots_out_at_once: count,
  /** Worker slots that are gone for good afterwards (stop, scale down); replacements of a restart are not counted. */
  worker_slots_removed: count,
});

/** One node whose merged config the write changes. */
export const nodeImpactSchema = z.object({
  node: z.string(),
  /** The revision the node's config is at now, and its hash before and after the write. */
  revision_before: count,
  hash_before: z.string(),
  hash_after: z.string(),
  programs: z.record(z.string(), programImpactSchema),
  /** Programs the agent will restart, start, stop or scale. */
  programs_affected: count,
  /** Sums over the node's programs: the agent applies them all at once. */
  processes_out_at_once: count,
  worker_slots_out_at_once: count,
});

/** POST /v1/preview. */
export const impactPreviewResponseSchema = z.object({
  layer: z.string(),
  kind: z.string(),
  /** The layer revision the preview was computed against (send it as If-Match to write exactly this). */
  base_revision: count,
  head_revision: count,
  /** False when the document would not change (the write would answer "no change"). */
  changed: z.boolean(),
  diff: z.array(diffEntrySchema),
  /** Known nodes whose merged config changes, by name. */
  nodes: z.array(nodeImpactSchema),
  /** Known nodes the layer applies to whose merged config stays the same. */
  unchanged_nodes: count,
  /**
   * The rollout policy the write would get (its own, a layer's default, or none) and, with a
   * policy, the waves it would plan over the changed nodes (absent from older centers).
   */
  rollout: z
    .object({
      source: z.enum(ROLLOUT_POLICY_SOURCES),
      layer: z.string().optional(),
      policy: z.record(z.string(), z.unknown()).optional(),
      waves: z.array(z.object({ nodes: z.array(z.string()), soak_ms: z.number() })).optional(),
    })
    .optional(),
  totals: z.object({
    nodes_changed: count,
    nodes_restarting: count,
    programs_restarting: count,
    /** If every node applied at once (the center serves a write to all of them together). */
    processes_out_at_once: count,
    worker_slots_out_at_once: count,
    worker_slots_removed: count,
  }),
});

export type ProgramImpact = z.infer<typeof programImpactSchema>;
export type NodeImpact = z.infer<typeof nodeImpactSchema>;
export type ImpactPreviewResponse = z.infer<typeof impactPreviewResponseSchema>;
