import { contentHash, mergeLayers, validateEffectiveConfig } from '@celeriac/config-schema';
import type { ValidationIssue } from './errors.js';

/** A node's effective config as computed from the layers. */
export interface EffectiveConfig {
  /** The merged config, normalised by the schema when valid. */
  config: Record<string, unknown>;
  /** contentHash(config) */
  hash: string;
  /** Problems of the merged config; empty when it is valid. */
  issues: ValidationIssue[];
}

/** Reads a layer's `groups` list (only node layers have one). */
export function groupsOf(nodeDocument: Record<string, unknown> | undefined): string[] {
  const groups = nodeDocument?.groups;
  return Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
}

/** Layer members that describe the layer rather than configure programs: never merged into a node's config. */
const METADATA_KEYS = ['labels', 'default_rollout'] as const;

/** A layer without its metadata (`labels`, `default_rollout`): the part merged into nodes' configs. */
export function nodeConfigPart(document: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (document === undefined || !METADATA_KEYS.some((key) => key in document)) return document;
  const rest = { ...document };
  for (const key of METADATA_KEYS) delete rest[key];
  return rest;
}

/**
 * Merges defaults, the node's groups in its order, and the node layer, then validates the result.
 * Labels and default rollout policies are left out: changing one restarts nothing.
 */
export function computeEffectiveConfig(
  layerDocument: (layer: string) => Record<string, unknown> | undefined,
  node: string | undefined,
): EffectiveConfig {
  const nodeDocument = node === undefined ? undefined : layerDocument(`nodes/${node}`);
  const docs: unknown[] = [nodeConfigPart(layerDocument('defaults'))];
  for (const group of groupsOf(nodeDocument)) docs.push(nodeConfigPart(layerDocument(`groups/${group}`)));
  docs.push(nodeConfigPart(nodeDocument));
  const merged = mergeLayers(...docs) as Record<string, unknown>;
  const result = validateEffectiveConfig(merged);
  const config = result.ok ? (result.value as unknown as Record<string, unknown>) : merged;
  return { config, hash: contentHash(config), issues: result.ok ? [] : result.issues };
}
