import { OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';

/** What `normalizeCelerySettingsWithWarnings` gives back. */
export interface NormalizedCelerySettings {
  settings: Record<string, unknown>;
  /** One line per old name that was dropped because its lowercase name was also given. */
  warnings: string[];
}

/**
 * Renames the old upper-case `celeryconfig.py` names (BROKER_URL, CELERY_ROUTES, ...) to Celery's
 * lowercase names. When both names of a setting are given, the lowercase one wins and a warning says so.
 * Unknown keys are kept as they are. The input is not modified.
 */
export function normalizeCelerySettingsWithWarnings(input: Record<string, unknown>): NormalizedCelerySettings {
  const settings: Record<string, unknown> = {};
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(OLD_CELERY_SETTING_NAMES, key)) settings[key] = value;
  }
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(OLD_CELERY_SETTING_NAMES, key)) continue;
    const name = OLD_CELERY_SETTING_NAMES[key] as string;
    if (Object.hasOwn(settings, name)) {
      warnings.push(`${key} and ${name} are both set; using ${name} and ignoring the old name ${key}`);
      continue;
    }
    settings[name] = value;
  }
  return { settings, warnings };
}

/** Renames old upper-case Celery setting names to the lowercase ones; the lowercase name wins when both are given. */
export function normalizeCelerySettings(input: Record<string, unknown>): Record<string, unknown> {
  return normalizeCelerySettingsWithWarnings(input).settings;
}
