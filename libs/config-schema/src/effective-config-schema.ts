import { z } from 'zod';
import { type CelerySettings, checkCelerySettings } from './celery-settings-schema.js';
import { type Check, checkStringArray } from './checks.js';
import { checkGroupName, checkPrograms, normalizeDocument } from './layer-schema.js';
import { isPlainObject } from './merge-layers.js';
import { checkProgram, PROGRAM_DEFAULTS, type Program } from './program-schema.js';
import { checked } from './zod-checked.js';

/** A node's merged configuration, as the center serves it and the agent applies it. */
export interface EffectiveConfig {
  groups?: string[];
  celery: CelerySettings;
  programs: Record<string, Program>;
}

const checkEffectiveConfig: Check = (value, add) => {
  if (!isPlainObject(value)) {
    add([], 'must be a JSON object with "celery" and "programs"');
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = (path: readonly (string | number)[], message: string) => add([key, ...path], message);
    if (item === undefined) continue;
    if (key === 'groups') checkStringArray(checkGroupName, { nonEmpty: false })(item, at, false);
    else if (key === 'celery') checkCelerySettings(item, at, false);
    else if (key === 'programs') checkPrograms(checkProgram, false)(item, at, false);
    else at([], 'is not a config field; a config has "celery", "programs" and "groups"');
  }
};

function withDefaults(config: Record<string, unknown>): EffectiveConfig {
  const programs: Record<string, Program> = {};
  for (const [name, program] of Object.entries((config.programs ?? {}) as Record<string, Program>)) {
    programs[name] = { ...PROGRAM_DEFAULTS, ...program };
  }
  const result: EffectiveConfig = { celery: (config.celery ?? {}) as CelerySettings, programs };
  if (config.groups !== undefined) result.groups = config.groups as string[];
  return result;
}

/** A merged config: complete programs (defaults filled in), Celery settings normalised and cross-checked. */
export const effectiveConfigSchema: z.ZodType<EffectiveConfig> = z
  .preprocess(
    normalizeDocument,
    checked<Record<string, unknown>>(checkEffectiveConfig, false, 'The merged config of a node'),
  )
  .transform(withDefaults) as unknown as z.ZodType<EffectiveConfig>;
