import type { z } from 'zod';
import { type EffectiveConfig, effectiveConfigSchema } from './effective-config-schema.js';
import { type Layer, layerSchema } from './layer-schema.js';
import { isPlainObject } from './merge-layers.js';
import { LAYER_NAME_RULE, parseLayerName } from './names.js';
import { normalizeCelerySettingsWithWarnings } from './normalize-celery-settings.js';

/** One problem: where (e.g. `celery.task_annotations["tasks.add"].rate_limit`) and what to do about it. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** The outcome of a validation: the normalised value (with warnings), or every problem found. */
export type ValidationResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; issues: ValidationIssue[] };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders a path: identifiers joined with ".", other keys as ["key"], list positions as [n]. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else {
      const key = String(segment);
      if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** "path: message" lines, one per issue; an empty path reads as "(document)". */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path === '' ? '(document)' : issue.path}: ${issue.message}`).join('\n');
}

function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

function celeryWarnings(doc: unknown): string[] {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return [];
  return normalizeCelerySettingsWithWarnings(doc.celery).warnings.map((warning) => `celery: ${warning}`);
}

/**
 * Validates one layer document under its layer name ("defaults", "groups/<g>", "nodes/<n>").
 * Returns every problem with its path, or the layer with Celery settings renamed to lowercase names
 * (store that value) and warnings such as an old and a new name given for one setting.
 */
export function validateLayer(layer: string, doc: unknown): ValidationResult<Layer> {
  const issues: ValidationIssue[] = [];
  const ref = parseLayerName(layer);
  if (!ref) issues.push({ path: layer, message: LAYER_NAME_RULE });
  else if (ref.kind !== 'node' && isPlainObject(doc) && doc.groups !== undefined && doc.groups !== null) {
    issues.push({ path: 'groups', message: 'only a node layer lists groups; set "groups" in nodes/<node>' });
  }
  const parsed = layerSchema.safeParse(doc);
  if (!parsed.success) issues.push(...toIssues(parsed.error));
  if (issues.length > 0 || !parsed.success) return { ok: false, issues };
  return { ok: true, value: parsed.data, warnings: celeryWarnings(doc) };
}

/** Validates a merged config: complete programs, Celery settings and their cross-checks; defaults filled in. */
export function validateEffectiveConfig(doc: unknown): ValidationResult<EffectiveConfig> {
  const parsed = effectiveConfigSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error) };
  return { ok: true, value: parsed.data, warnings: celeryWarnings(doc) };
}
