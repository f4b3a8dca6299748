export {
  apiJsonSchemas,
  errorResponseSchema,
  issueSchema,
  nodeConfigResponseSchema,
  rollbackRequestSchema,
  TOKEN_ROLES,
  type TokenRole,
  tokenRequestSchema,
} from './api-schemas.js';
export { CELERY_SETTING_NAMES, OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';
export {
  acceptedSerializers,
  type CelerySettings,
  celerySettingsLayerSchema,
  celerySettingsSchema,
  QUEUE_NAME_PATTERN,
  type RouteOptions,
  type SerializerName,
  SUPPORTED_SERIALIZERS,
  type TaskAnnotations,
  type TaskRoutes,
} from './celery-settings-schema.js';
export { type ChangeAction, celerySettingsForProgram, classifyChange, type ProgramChange } from './classify-change.js';
export { canonicalJson, contentHash } from './content-hash.js';
export { parseDuration } from './duration.js';
export { type EffectiveConfig, effectiveConfigSchema } from './effective-config-schema.js';
export { ConfigSchemaError, DurationFormatError } from './errors.js';
export { type Layer, layerSchema } from './layer-schema.js';
export { isPlainObject, mergeLayers } from './merge-layers.js';
export {
  groupNameSchema,
  isValidName,
  LAYER_NAME_RULE,
  type LayerRef,
  layerNameSchema,
  NAME_PATTERN,
  nodeNameSchema,
  parseLayerName,
  programNameSchema,
} from './names.js';
export {
  APPLY_RESULTS,
  type ApplyResult,
  lastExitSchema,
  type NodeStatus,
  nodeStatusSchema,
  PROGRAM_STATES,
  type ProgramState,
  type ProgramStatus,
  programStatusSchema,
} from './node-status-schema.js';
export {
  type NormalizedCelerySettings,
  normalizeCelerySettings,
  normalizeCelerySettingsWithWarnings,
} from './normalize-celery-settings.js';
export {
  PROGRAM_DEFAULTS,
  PROGRAM_FIELDS,
  PROGRAM_KINDS,
  type Program,
  type ProgramKind,
  type ProgramLayer,
  programLayerSchema,
  programSchema,
} from './program-schema.js';
export {
  formatIssues,
  formatPath,
  type ValidationIssue,
  type ValidationResult,
  validateEffectiveConfig,
  validateLayer,
} from './validate.js';
