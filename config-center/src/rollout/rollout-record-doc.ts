import { rolloutPolicySchema } from '@celeriac/config-schema';
import { z } from 'zod';
import { GATE_NAMES } from './evaluate-gates.js';
import { ROLLOUT_STATES, type RolloutRecord } from './rollout-record.js';

/*
 * Plain zod shapes of the rollout answers (GET /v1/rollouts[/:id], POST /v1/rollouts/:id/<command>),
 * used only to publish their JSON Schemas in /v1/openapi.json. The record itself is the
 * `RolloutRecord` interface (rollout-record.ts); the type check at the end of this file fails
 * the build when the two drift apart.
 */

const gateResultDoc = z.object({
  gate: z.enum(GATE_NAMES),
  verdict: z.enum(['pass', 'fail', 'pending']),
  measured: z.number().nullable(),
  bound: z.number().nullable(),
  detail: z.string(),
});

const rolloutEventDoc = z.object({
  at: z.string(),
  event: z.enum([
    'started',
    'promoted',
    'paused',
    'resumed',
    'promote_requested',
    'rolled_back',
    'succeeded',
    'aborted',
  ]),
  wave: z.number().int(),
  detail: z.string(),
  gates: z.array(gateResultDoc).optional().describe('the gates that decided it (a breach: the failing gate)'),
});

/** One rollout as the center keeps and serves it. */
const rolloutRecordDoc = z.object({
  id: z.string(),
  revision: z.number().int().describe('the revision rolled out'),
  layer: z.string(),
  layer_base_revision: z.number().int().describe("the layer's revision before it (0: it did not exist)"),
  state: z.enum(ROLLOUT_STATES),
  /** Published as a reference to RolloutPolicy (rolloutJsonSchemas). */
  policy: z.unknown(),
  waves: z.array(
    z.object({
      policy_index: z.number().int().describe("index into the policy's waves; the implicit last wave has its length"),
      nodes: z.array(z.string()),
      soak_ms: z.number(),
    }),
  ),
  wave: z.number().int().describe('the current wave, 0-based'),
  wave_started_at: z.string(),
  passing_since: z.string().nullable(),
  promote_requested: z.boolean(),
  served: z.array(z.string()).describe('nodes served the revision so far'),
  prior: z.record(z.string(), z.number()).describe("each affected node's effective revision before the rollout"),
  restarts: z.record(z.string(), z.number()).describe('programs the change restarts on each affected node'),
  started_at: z.string(),
  updated_at: z.string(),
  last_verdict: z.enum(['pass', 'fail', 'pending']).nullable(),
  last_gates: z.array(gateResultDoc),
  last_reason: z.string(),
  rollback_revision: z.number().int().optional(),
  events: z.array(rolloutEventDoc),
});

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * The OpenAPI components of the rollout routes: RolloutPolicy (as a write's `rollout` or a layer's
 * `default_rollout` carries it; durations as text or seconds), RolloutRecord (its policy as read:
 * durations in ms, defaults filled in) and RolloutList (GET /v1/rollouts: newest first, and
 * `driving`, whether this replica holds the lease that drives rollouts).
 */
export function rolloutJsonSchemas(): Record<string, Record<string, unknown>> {
  const policy = z.toJSONSchema(rolloutPolicySchema, { io: 'input' }) as Record<string, unknown>;
  const record = z.toJSONSchema(rolloutRecordDoc, { io: 'output' }) as Record<string, unknown> & {
    properties: Record<string, unknown>;
  };
  record.properties.policy = ref('RolloutPolicy');
  for (const schema of [policy, record]) delete schema.$schema;
  return {
    RolloutPolicy: policy,
    RolloutRecord: record,
    RolloutList: {
      type: 'object',
      properties: { rollouts: { type: 'array', items: ref('RolloutRecord') }, driving: { type: 'boolean' } },
      required: ['rollouts', 'driving'],
      additionalProperties: false,
    },
  };
}

type RecordDoc = z.infer<typeof rolloutRecordDoc>;
type Fits<T extends U, U> = T;
type IsTrue<T extends true> = T;
/** Fails the build when a RolloutRecord no longer fits the published shape, or has a field it lacks. */
export type RolloutRecordDocumented = [
  Fits<RolloutRecord, RecordDoc>,
  IsTrue<[Exclude<keyof RolloutRecord, keyof RecordDoc>] extends [never] ? true : false>,
];
