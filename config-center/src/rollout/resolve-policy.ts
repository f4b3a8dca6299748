import { type RolloutPolicy, rolloutPolicySchema } from '@celeriac/config-schema';
import { groupsOf } from '../effective-config.js';

/**
 * Which rollout policy a write gets, and why: its own (`write`), the default of the nearest layer
 * (`layer`, naming it), none because the write said `rollout: null` (`bypassed`, naming the layer
 * whose default it skipped, if any), or none at all (`none`). Recorded in the revision.
 */
export interface ResolvedRollout {
  source: 'write' | 'layer' | 'bypassed' | 'none';
  /** The layer whose `default_rollout` applies (`layer`) or was skipped (`bypassed`). */
  layer?: string;
  /** The policy that applies (defaults filled in, durations in ms); absent for bypassed / none. */
  policy?: RolloutPolicy;
}

/**
 * The layers whose `default_rollout` a write to `layer` may use, nearest first: a node layer, then
 * its groups from the last to the first (later groups override earlier ones when merged), then
 * defaults; a group layer, then defaults; defaults alone.
 */
export function policyLayers(layer: string, document: (name: string) => Record<string, unknown> | undefined): string[] {
  if (layer === 'defaults') return ['defaults'];
  if (layer.startsWith('groups/')) return [layer, 'defaults'];
  const groups = groupsOf(document(layer)).map((group) => `groups/${group}`);
  return [layer, ...groups.reverse(), 'defaults'];
}

/**
 * Resolves the policy of a write to `layer`: `explicit` (the write's `rollout` member: a policy, or
 * null to bypass any default) wins; else the nearest layer's `default_rollout`. `document` gives each
 * layer's document as it will be after the write. Rollbacks get a policy only when they carry one:
 * they restore what ran before and must not wait for waves. Pure.
 */
export function resolveRollout(
  layer: string,
  explicit: RolloutPolicy | null | undefined,
  isRollback: boolean,
  document: (name: string) => Record<string, unknown> | undefined,
): ResolvedRollout {
  if (explicit) return { source: 'write', policy: explicit };
  const from = isRollback ? undefined : policyLayers(layer, document).find((name) => defaultPolicyOf(document(name)));
  if (explicit === null) return from ? { source: 'bypassed', layer: from } : { source: 'bypassed' };
  if (!from) return { source: 'none' };
  return { source: 'layer', layer: from, policy: defaultPolicyOf(document(from)) as RolloutPolicy };
}

/** A layer document's `default_rollout`, parsed; undefined when it has none (layers are validated on write). */
export function defaultPolicyOf(document: Record<string, unknown> | undefined): RolloutPolicy | undefined {
  const raw = document?.default_rollout;
  if (raw === undefined || raw === null) return undefined;
  const parsed = rolloutPolicySchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
