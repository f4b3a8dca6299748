import { z } from 'zod';

const ratePerSecond = z.number().min(0);

/** One node's health at one time (the latest report of its time step): the figures the charts draw. */
export const healthPointSchema = z.object({
  /** When the center received the report, in ms since the epoch (rounded down to the second). */
  t: z.number().int(),
  /** Tasks ended (succeeded + failed) per second over the agent's window, summed over the node's programs. */
  tasks_per_s: ratePerSecond,
  /** failed / ended; null when nothing ended. */
  failure_ratio: z.number().min(0).max(1).nullable(),
  /** Worst runtime p95 among the node's programs; null when none measured one. */
  runtime_p95_s: z.number().min(0).nullable(),
});

/** The selected nodes together at one time step: summed rates, pooled failure ratio, worst p95. */
export const fleetPointSchema = healthPointSchema.extend({
  /** Nodes that contributed to the step (their latest point is at most `carry_s` old). */
  nodes: z.number().int().min(0),
});

/** A revision in the window, drawn as a vertical marker; rollbacks say why. */
export const revisionMarkerSchema = z.object({
  revision: z.number().int().positive(),
  /** ms since the epoch. */
  t: z.number().int(),
  layer: z.string(),
  kind: z.enum(['put', 'patch', 'rollback']),
  author: z.string(),
  message: z.string(),
  /** For a rollback: the rollout that made it (null for a manual one), its reason and the gates that failed. */
  rollback: z
    .object({
      rollout: z.string().nullable(),
      reason: z.string(),
      gates: z.array(
        z.object({
          gate: z.string(),
          measured: z.number().nullable(),
          bound: z.number().nullable(),
          detail: z.string(),
        }),
      ),
    })
    .optional(),
});

/** GET /v1/health/history. */
export const healthHistoryResponseSchema = z.object({
  /** The center's clock when it answered, ms since the epoch. */
  now: z.number().int(),
  window_s: z.number().int().positive(),
  step_s: z.number().int().positive(),
  carry_s: z.number().int().min(0),
  /**
   * `replica`: kept by this center replica from the reports it received itself (the file store);
   * `shared`: every replica's reports, shared through the Redis store.
   */
  scope: z.enum(['replica', 'shared']),
  /** Nodes of the selection that have points in the window. */
  nodes: z.array(z.string()),
  /** The selection's aggregate per step, oldest first (only steps with at least one node). */
  fleet: z.array(fleetPointSchema),
  /** Revisions in the window that changed a selected node's effective config (every revision when no selector). */
  markers: z.array(revisionMarkerSchema),
  /** With `node=`: that node's points and the revisions that changed its effective config in the window. */
  node: z
    .object({ node: z.string(), points: z.array(healthPointSchema), revisions: z.array(z.number().int()) })
    .optional(),
});

export type HealthPoint = z.infer<typeof healthPointSchema>;
export type FleetPoint = z.infer<typeof fleetPointSchema>;
export type RevisionMarker = z.infer<typeof revisionMarkerSchema>;
export type HealthHistoryResponse = z.infer<typeof healthHistoryResponseSchema>;
