import type { z } from 'zod';
import { CELERIAC_SETTING_NAMES, celeriacOnlyWarnings, isCeleriacSetting } from './celeriac-settings.js';
import { CELERY_SETTING_NAMES, OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';
import { type EffectiveConfig, effectiveConfigSchema } from './effective-config-schema.js';
import { findTooDeep, MAX_DOCUMENT_DEPTH } from './json-walk.js';
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

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The known setting closest to `name`, when it is close enough to be a likely typo. */
function closestSetting(name: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 5)) + 1;
  for (const known of names) {
    const distance = editDistance(name.toLowerCase(), known);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Old and new name given together, settings Celery does not know (likely typos), `celeriac_*`
 * settings close to a known one, and Celeriac-only settings next to a Python celery-worker program.
 */
function celeryWarnings(doc: unknown): string[] {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return [];
  const { settings, warnings } = normalizeCelerySettingsWithWarnings(doc.celery);
  const out = warnings.map((warning) => `celery: ${warning}`);
  for (const key of Object.keys(settings)) {
    if (CELERY_SETTING_NAMES.has(key) || CELERIAC_SETTING_NAMES.has(key)) continue;
    if (isCeleriacSetting(key)) {
      // Other celeriac_* names stay reserved for Celeriac; warn only about a likely typo.
      const hint = closestSetting(key, CELERIAC_SETTING_NAMES);
      if (hint)
        out.push(`celery.${key} is not a Celeriac setting; it is kept, but no worker reads it (did you mean ${hint}?)`);
      continue;
    }
    const hint = closestSetting(key, CELERY_SETTING_NAMES);
    out.push(
      `celery.${key} is not a Celery setting; it is kept, but no worker reads it${hint ? ` (did you mean ${hint}?)` : ''}`,
    );
  }
  out.push(...celeriacOnlyWarnings(doc, settings));
  return out;
}

/** Issues about a setting the document gave under its old upper-case name say so. */
function mentionOldNames(doc: unknown, issues: ValidationIssue[]): ValidationIssue[] {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return issues;
  const oldNames = new Map<string, string>();
  for (const key of Object.keys(doc.celery)) {
    const name = OLD_CELERY_SETTING_NAMES[key];
    if (name !== undefined && !Object.hasOwn(doc.celery, name)) oldNames.set(name, key);
  }
  if (oldNames.size === 0) return issues;
  return issues.map((issue) => {
    const match = /^celery\.([a-z0-9_]+)(?=$|[.[])/.exec(issue.path);
    const old = match ? oldNames.get(match[1] as string) : undefined;
    return old ? { ...issue, message: `${issue.message} (set as ${old})` } : issue;
  });
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
  const tooDeep = findTooDeep(doc);
  if (tooDeep) {
    issues.push({
      path: formatPath(tooDeep),
      message: `nests deeper than ${MAX_DOCUMENT_DEPTH} levels; a layer may nest objects and lists at most ${MAX_DOCUMENT_DEPTH} levels deep: flatten it or remove it`,
    });
    return { ok: false, issues };
  }
  const parsed = layerSchema.safeParse(doc);
  if (!parsed.success) issues.push(...mentionOldNames(doc, toIssues(parsed.error)));
  if (issues.length > 0 || !parsed.success) return { ok: false, issues };
  return { ok: true, value: parsed.data, warnings: celeryWarnings(doc) };
}

/** Validates a merged config: complete programs, Celery settings and their cross-checks; defaults filled in. */
export function validateEffectiveConfig(doc: unknown): ValidationResult<EffectiveConfig> {
  const parsed = effectiveConfigSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, issues: mentionOldNames(doc, toIssues(parsed.error)) };
  return { ok: true, value: parsed.data, warnings: celeryWarnings(doc) };
}
