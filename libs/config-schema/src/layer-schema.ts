import { z } from 'zod';
import { type CelerySettings, checkCelerySettings } from './celery-settings-schema.js';
import { type Check, checkStringArray } from './checks.js';
import { isPlainObject } from './merge-layers.js';
import { isValidName } from './names.js';
import { checkLabels, type NodeLabels } from './node-labels.js';
import { normalizeCelerySettings } from './normalize-celery-settings.js';
import { checkProgramLayer, type ProgramLayer } from './program-schema.js';
import { type RolloutPolicyInput, rolloutPolicySchema } from './rollout-policy.js';
import { checked } from './zod-checked.js';

/** One layer document: `defaults`, `groups/<group>` or `nodes/<node>`. */
export interface Layer {
  /** Only in a node layer: the groups whose layers apply to the node, in order. */
  groups?: string[] | null;
  celery?: { [K in keyof CelerySettings]?: CelerySettings[K] | null };
  programs?: Record<string, ProgramLayer | null>;
  /** Only in a node layer: labels such as `{ "zone": "eu" }` that selectors match (node-labels.ts). */
  labels?: { [key: string]: NodeLabels[string] | null } | null;
  /**
   * The rollout policy of a write to this layer (or to a narrower one) that carries none of its own
   * (docs/rollouts.md, "A layer's default policy"). Not part of any node's config.
   */
  default_rollout?: RolloutPolicyInput | null;
}

/** Checks a layer's `default_rollout` with the rollout policy schema, one issue per problem. */
const checkDefaultRollout: Check = (value, add) => {
  const parsed = rolloutPolicySchema.safeParse(value);
  if (!parsed.success) for (const issue of parsed.error.issues) add(issue.path as (string | number)[], issue.message);
};

const NAME_HELP = 'use 1 to 63 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit, without ".."';

export const checkGroupName: Check = (value, add) => {
  if (typeof value !== 'string' || !isValidName(value))
    add([], `${JSON.stringify(value)} is not a valid group name; ${NAME_HELP}`);
};

/** Checks `programs`: valid names, each program well-formed (complete when `complete`). */
export function checkPrograms(programCheck: Check, allowNull: boolean): Check {
  return (value, add, layer) => {
    if (!isPlainObject(value)) {
      add([], 'must be an object of program name to program, e.g. {"workers": {"kind": "celeriac-worker", ...}}');
      return;
    }
    for (const [name, program] of Object.entries(value)) {
      const at = (path: readonly (string | number)[], message: string) => add([name, ...path], message);
      if (!isValidName(name)) at([], `is not a valid program name; ${NAME_HELP}`);
      if (program === null && allowNull) continue;
      programCheck(program, at, layer);
    }
  };
}

/** A copy of a layer-shaped document whose `celery` object uses lowercase names. */
export function normalizeDocument(doc: unknown): unknown {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return doc;
  return { ...doc, celery: normalizeCelerySettings(doc.celery) };
}

const LAYER_FIELDS =
  'a layer has "celery", "programs", "default_rollout" and, in node layers only, "groups" and "labels"';

/** Checks a layer document whose celery settings are already normalised. */
export const checkLayer: Check = (value, add) => {
  if (!isPlainObject(value)) {
    add([], `must be a JSON object; ${LAYER_FIELDS}`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = (path: readonly (string | number)[], message: string) => add([key, ...path], message);
    if (item === undefined || item === null) continue;
    if (key === 'groups') checkStringArray(checkGroupName, { nonEmpty: false })(item, at, true);
    else if (key === 'celery') checkCelerySettings(item, at, true);
    else if (key === 'programs') checkPrograms(checkProgramLayer, true)(item, at, true);
    else if (key === 'labels') checkLabels(item, at, true);
    else if (key === 'default_rollout') checkDefaultRollout(item, at, true);
    else at([], `is not a layer field; ${LAYER_FIELDS}`);
  }
};

/** A layer document (old upper-case Celery names are normalised first; `null` deletes a key when merged). */
export const layerSchema: z.ZodType<Layer> = z.preprocess(
  normalizeDocument,
  checked<Layer>(checkLayer, true, `A layer document: ${LAYER_FIELDS}`),
) as unknown as z.ZodType<Layer>;
