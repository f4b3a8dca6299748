import { z } from 'zod';

/**
 * One fleet-wide limit as an agent reports it in its node status (and the center shows it in the
 * node summary and the console): the limit in force and its state across the fleet, as the agent
 * last read it from the broker Redis (docs/fleet-limits.md).
 */
export const fleetLimitStatusSchema = z.object({
  /** `task:<name>` or `queue:<name>`. */
  limit: z.string().max(512),
  /** Tasks per second in force, null: none. */
  rate: z.number().nullable(),
  /** Most running at once, null: none. */
  concurrency: z.number().int().nullable(),
  /** The argument the limit holds per value of, null: one limit for all. */
  key: z.string().max(512).nullable(),
  /** Tokens granted in the last whole second, fleet-wide. */
  current_rate: z.number(),
  /** Tokens in the bucket (limits without a key), else null. */
  tokens: z.number().nullable(),
  /** Slots held (limits without a key), else null. */
  slots_held: z.number().int().nullable(),
  /** Tasks waiting for it in the workers that reported in the last 5 s. */
  waiting: z.number().int(),
  /** Tasks running under its slots in those workers. */
  running: z.number().int(),
});

/** One row of `fleet_limits` in a node status and a node summary. */
export type FleetLimitStatus = z.infer<typeof fleetLimitStatusSchema>;

/** Most rows an agent reports. */
export const MAX_FLEET_LIMIT_ROWS = 256;
