import type { z } from 'zod';
import { type CelerySettings, checkCelerySettings } from './celery-settings-schema.js';
import { checked } from './zod-checked.js';

function buildCelerySettingsSchema(layer: boolean): z.ZodType<CelerySettings> {
  return checked<CelerySettings>(
    checkCelerySettings,
    layer,
    'Celery settings with lowercase names (old upper-case names are normalised)',
  );
}

/** Celery settings of an effective config (lowercase names; normalise first). */
export const celerySettingsSchema = buildCelerySettingsSchema(false);
/** Celery settings inside a layer: like celerySettingsSchema, and `null` deletes a key. */
export const celerySettingsLayerSchema = buildCelerySettingsSchema(true);
