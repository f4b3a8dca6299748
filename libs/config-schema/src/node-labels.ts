import type { Check } from './checks.js';
import { isPlainObject } from './merge-layers.js';
import { isValidName } from './names.js';

/** A node's labels, e.g. `{ zone: 'eu', role: 'video' }`: what selectors and rollout waves match on. */
export type NodeLabels = Record<string, string>;

/** Selector keys that are not labels: `node=<name>` and `group=<group>`, so no label may take these names. */
export const RESERVED_LABEL_KEYS = ['node', 'group'] as const;

/** Label values: 1–63 of A–Z a–z 0–9 _ . - starting with a letter or digit. */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Most labels one node may carry. */
export const MAX_LABELS = 64;

const KEY_RULE = 'a label key is 1 to 63 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit';
const VALUE_RULE =
  'a label value is 1 to 63 characters of A-Z, a-z, 0-9, "_", "." and "-", starting with a letter or digit';

/** True when `key` may name a label. */
export function isValidLabelKey(key: string): boolean {
  return isValidName(key) && !(RESERVED_LABEL_KEYS as readonly string[]).includes(key);
}

/** True when `value` may be a label's value. */
export function isValidLabelValue(value: unknown): value is string {
  return typeof value === 'string' && LABEL_VALUE_PATTERN.test(value);
}

/** Checks a node layer's `labels`: an object of label key to value (`null` removes a label in a layer). */
export const checkLabels: Check = (value, add, layer) => {
  if (!isPlainObject(value)) {
    add([], 'must be an object of label to value, e.g. {"zone": "eu", "role": "video"}');
    return;
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) add([], `has ${entries.length} labels; a node may carry at most ${MAX_LABELS}`);
  for (const [key, item] of entries) {
    if ((RESERVED_LABEL_KEYS as readonly string[]).includes(key)) {
      add(
        [key],
        `"${key}" is not a label name: selectors use ${key}=... for the node's ${key === 'node' ? 'name' : 'groups'}`,
      );
    } else if (!isValidName(key)) add([key], `is not a valid label key; ${KEY_RULE}`);
    if (item === null && layer) continue;
    if (!isValidLabelValue(item)) add([key], `${JSON.stringify(item)} is not a valid label value; ${VALUE_RULE}`);
  }
};

/** The labels a node layer document carries (entries that are not valid labels are left out). */
export function labelsOf(nodeDocument: Record<string, unknown> | undefined): NodeLabels {
  const labels = nodeDocument?.labels;
  if (!isPlainObject(labels)) return {};
  const out: NodeLabels = {};
  for (const key of Object.keys(labels).sort()) {
    const value = labels[key];
    if (isValidLabelValue(value)) out[key] = value;
  }
  return out;
}

/** Issues of a layer that is not a node layer yet carries labels (only node layers may). */
export function labelPlacementIssues(
  kind: 'defaults' | 'group' | 'node',
  doc: unknown,
): { path: string; message: string }[] {
  if (kind === 'node' || !isPlainObject(doc) || doc.labels === undefined || doc.labels === null) return [];
  return [{ path: 'labels', message: 'only a node layer carries labels; set "labels" in nodes/<node>' }];
}
