import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseSelector } from './node-selector.js';

/** A duration as '30s' | '2m' | '500ms' or a number of seconds, read into milliseconds. */
const durationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(value)} (e.g. "30s", "2m")` });
    return z.NEVER;
  }
});

const waveSoak = { soak: durationMs.optional() };

/**
 * One wave of a rollout: the next N nodes, N % of the affected nodes, the remaining nodes a
 * selector matches, or every remaining node; each may set its own soak time.
 */
export const rolloutWaveSchema = z.union([
  z.object({ nodes: z.number().int().positive(), ...waveSoak }).strict(),
  z.object({ percent: z.number().positive().max(100), ...waveSoak }).strict(),
  z
    .object({ selector: z.string().min(1), ...waveSoak })
    .strict()
    .superRefine((wave, ctx) => {
      const parsed = parseSelector(wave.selector);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', path: ['selector'], message: parsed.message });
    }),
  z.object({ rest: z.literal(true), ...waveSoak }).strict(),
]);

export type RolloutWave = z.infer<typeof rolloutWaveSchema>;

/** An upper bound, absolute (`max`) and/or relative to the baseline (`max_ratio` × baseline). */
const upperBoundSchema = z
  .object({ max: z.number().min(0).optional(), max_ratio: z.number().positive().optional() })
  .strict();

/**
 * The health gates a wave must hold for its soak time. The baseline is the nodes not yet changed.
 * Failure rate: `max` is an absolute ratio (0..1), `max_increase` the most it may exceed the
 * baseline's ratio. Throughput (succeeded tasks/s per node): `min` absolute, `min_ratio` × baseline.
 */
export const rolloutGatesSchema = z
  .object({
    apply_ok: z.boolean().default(true),
    no_crash_loop: z.boolean().default(true),
    failure_rate: z
      .object({
        max: z.number().min(0).max(1).optional(),
        max_increase: z.number().min(0).max(1).optional(),
        /** Tasks that must have ended on the wave before the rate is judged; fewer is pending. */
        min_tasks: z.number().int().min(0).default(1),
      })
      .strict()
      .optional(),
    runtime_p95_s: upperBoundSchema.optional(),
    queue_wait_p95_s: upperBoundSchema.optional(),
    throughput: z
      .object({ min: z.number().min(0).optional(), min_ratio: z.number().positive().optional() })
      .strict()
      .optional(),
  })
  .strict();

export type RolloutGates = z.infer<typeof rolloutGatesSchema>;

/** At most `programs` programs, or `percent` % of the fleet's programs, restarting at the same time. */
export const restartBudgetSchema = z
  .object({ programs: z.number().int().positive().optional(), percent: z.number().positive().max(100).optional() })
  .strict()
  .refine((budget) => budget.programs !== undefined || budget.percent !== undefined, {
    message: 'a restart budget needs "programs" or "percent"',
  });

export type RestartBudget = z.infer<typeof restartBudgetSchema>;

/**
 * A rollout policy, carried by a write (`rollout`) or a layer (`rollout` default): waves, the soak
 * time each wave's gates must hold before the next one starts, the gates, how long a wave may stay
 * pending before it is rolled back, and the restart budget.
 */
export const rolloutPolicySchema = z
  .object({
    waves: z.array(rolloutWaveSchema).min(1).max(64),
    soak: durationMs.default(60_000),
    /** A wave whose gates are still pending (no data, not applied) this long after it started is rolled back. */
    progress_deadline: durationMs.default(600_000),
    gates: rolloutGatesSchema.prefault({}),
    restart_budget: restartBudgetSchema.optional(),
  })
  .strict();

/** A policy as written (durations as text). */
export type RolloutPolicyInput = z.input<typeof rolloutPolicySchema>;
/** A policy as read: durations in milliseconds, defaults filled in. */
export type RolloutPolicy = z.output<typeof rolloutPolicySchema>;
