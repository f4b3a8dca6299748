import type { z } from 'zod';
import { brokerTransportOf } from './broker-transport.js';
import { CELERIAC_SETTING_NAMES, celeriacOnlyWarnings, isCeleriacSetting } from './celeriac-settings.js';
import { CELERY_SETTING_NAMES, LATER_CELERY_SETTING_NAMES, OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';
import { closestName } from './edit-distance.js';
import { type EffectiveConfig, effectiveConfigSchema } from './effective-config-schema.js';
import { formatPath } from './format-path.js';
import { findProtoKey, findTooDeep, MAX_DOCUMENT_DEPTH } from './json-walk.js';
import { type Layer, layerSchema } from './layer-schema.js';
import { isPlainObject } from './merge-layers.js';
import { LAYER_NAME_RULE, parseLayerName } from './names.js';
import { labelPlacementIssues } from './node-labels.js';
import { normalizeCelerySettingsWithWarnings } from './normalize-celery-settings.js';
import { settingNotice } from './settings-report.js';

export { formatPath };

/** One problem: where (e.g. `celery.task_annotations["tasks.add"].rate_limit`) and what to do about it. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** The outcome of a validation: the normalised value (with warnings), or every problem found. */
export type ValidationResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; issues: ValidationIssue[] };

/** "path: message" lines, one per issue; an empty path reads as "(document)". */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path === '' ? '(document)' : issue.path}: ${issue.message}`).join('\n');
}

function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/**
 * Old and new name given together, settings Celery does not know (likely typos), `celeriac_*`
 * settings close to a known one, and Celeriac-only settings next to a Python celery-worker program.
 */
function celeryWarnings(doc: unknown): string[] {
  if (!isPlainObject(doc) || !isPlainObject(doc.celery)) return [];
  const { settings, warnings } = normalizeCelerySettingsWithWarnings(doc.celery);
  const out = warnings.map((warning) => `celery: ${warning}`);
  const transport = brokerTransportOf(settings);
  for (const key of Object.keys(settings)) {
    if (CELERY_SETTING_NAMES.has(key) || LATER_CELERY_SETTING_NAMES.has(key) || CELERIAC_SETTING_NAMES.has(key)) {
      const notice = settings[key] === null ? undefined : settingNotice(key, settings[key], transport);
      if (notice) out.push(`celery.${key} is not supported by Celeriac workers and clients: ${notice.reason}`);
      continue;
    }
    if (isCeleriacSetting(key)) {
      // Other celeriac_* names stay reserved for Celeriac; warn only about a likely typo.
      const hint = closestName(key, CELERIAC_SETTING_NAMES);
      if (hint)
        out.push(`celery.${key} is not a Celeriac setting; it is kept, but no worker reads it (did you mean ${hint}?)`);
      continue;
    }
    const hint = closestName(key, CELERY_SETTING_NAMES);
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
  if (ref) issues.push(...labelPlacementIssues(ref.kind, doc));
  const tooDeep = findTooDeep(doc);
  if (tooDeep) {
    issues.push({
      path: formatPath(tooDeep),
      message: `nests deeper than ${MAX_DOCUMENT_DEPTH} levels; a layer may nest objects and lists at most ${MAX_DOCUMENT_DEPTH} levels deep: flatten it or remove it`,
    });
    return { ok: false, issues };
  }
  const protoKey = findProtoKey(doc);
  if (protoKey) {
    issues.push({ path: formatPath(protoKey), message: 'a key named "__proto__" cannot be stored: rename it' });
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
