export {
  type Author,
  authorSchema,
  type DiffEntry,
  type DiffResponse,
  diffEntrySchema,
  diffResponseSchema,
  type HealthResponse,
  healthResponseSchema,
  type LayerListResponse,
  type LayerResponse,
  type LayerWriteResponse,
  layerListResponseSchema,
  layerResponseSchema,
  layerWriteResponseSchema,
  NODE_STATES,
  type NodeListResponse,
  type NodeState,
  type NodeSummary,
  nodeListResponseSchema,
  nodeSummarySchema,
  REVISION_KINDS,
  type Revision,
  type RevisionKind,
  type RevisionListResponse,
  type RevisionRollout,
  type RevisionSummary,
  ROLLOUT_POLICY_SOURCES,
  type RollbackResponse,
  revisionListResponseSchema,
  revisionRolloutSchema,
  revisionSchema,
  revisionSummarySchema,
  rollbackResponseSchema,
  type StatusReportResponse,
  statusReportResponseSchema,
  type TokenCreatedResponse,
  type TokenListResponse,
  type TokenRevokedResponse,
  type TokenView,
  tokenCreatedResponseSchema,
  tokenListResponseSchema,
  tokenRevokedResponseSchema,
  tokenViewSchema,
  type WhoAmIResponse,
  whoAmIResponseSchema,
} from './api-responses.js';
export {
  apiJsonSchemas,
  CENTER_ERROR_CODES,
  CENTER_ERROR_STATUS,
  type CenterErrorCode,
  type ErrorResponse,
  errorResponseSchema,
  issueSchema,
  nodeConfigResponseSchema,
  rollbackRequestSchema,
  TOKEN_ROLES,
  type TokenRole,
  tokenRequestSchema,
  type ValidationIssueBody,
} from './api-schemas.js';
export {
  CELERIAC_SETTING_CHECKS,
  CELERIAC_SETTING_NAMES,
  type CeleriacDeliverySettings,
  celeriacOnlyWarnings,
  isCeleriacSetting,
} from './celeriac-settings.js';
export { CELERY_SETTING_NAMES, OLD_CELERY_SETTING_NAMES } from './celery-setting-names.js';
export {
  acceptedSerializers,
  type CelerySettings,
  checkCompression,
  QUEUE_NAME_PATTERN,
  type RouteOptions,
  type SerializerName,
  SUPPORTED_SERIALIZERS,
  type TaskAnnotations,
  type TaskRoutes,
} from './celery-settings-schema.js';
export { celerySettingsLayerSchema, celerySettingsSchema } from './celery-settings-zod.js';
export { SUPPORTED_URL_SCHEMES } from './celery-urls.js';
export {
  CELERY_WORKER_DEFAULTS,
  celeryWorkerSendsTaskEvents,
  withCeleryWorkerDefaults,
} from './celery-worker-defaults.js';
export {
  type ChangeAction,
  celerySettingsForProgram,
  classifyChange,
  type ProgramChange,
  type ProgramChangeInput,
  planProgramChanges,
  type RunningProgram,
} from './classify-change.js';
export { canonicalJson, contentHash } from './content-hash.js';
export { parseDuration } from './duration.js';
export { closestName, editDistance } from './edit-distance.js';
export { type EffectiveConfig, effectiveConfigSchema } from './effective-config-schema.js';
export { ConfigSchemaError, type ConfigSchemaErrorCode, DurationFormatError } from './errors.js';
export {
  checkFleetLimits,
  FLEET_ANNOTATION_CHECKS,
  type FleetLimitOptions,
  type FleetLimitsSetting,
  fleetLimitsOf,
  withoutFleetLimits,
} from './fleet-limit-settings.js';
export {
  type FleetLimitStatus,
  fleetLimitStatusSchema,
  MAX_FLEET_LIMIT_ROWS,
} from './fleet-limit-status-schema.js';
export {
  type ImpactPreviewResponse,
  impactPreviewResponseSchema,
  type NodeImpact,
  nodeImpactSchema,
  type ProgramImpact,
  programImpactSchema,
} from './impact-preview-schema.js';
export { cloneJson, findTooDeep, type JsonPathSegment, MAX_DOCUMENT_DEPTH } from './json-walk.js';
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
  checkLabels,
  isValidLabelKey,
  isValidLabelValue,
  LABEL_VALUE_PATTERN,
  labelPlacementIssues,
  labelsOf,
  MAX_LABELS,
  type NodeLabels,
  RESERVED_LABEL_KEYS,
} from './node-labels.js';
export {
  matchesSelector,
  type NodeSelector,
  parseSelector,
  SELECTOR_HELP,
  type SelectableNode,
  type SelectorParseResult,
  type SelectorTerm,
  selectNodes,
} from './node-selector.js';
export {
  APPLY_RESULTS,
  type ApplyResult,
  type LastExit,
  lastExitSchema,
  MAX_HEARTBEAT_MS,
  type NodeStatus,
  nodeStatusSchema,
  PROGRAM_STATES,
  type ProgramHealth,
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
  type RestartBudget,
  type RolloutGates,
  type RolloutPolicy,
  type RolloutPolicyInput,
  type RolloutWave,
  restartBudgetSchema,
  rolloutGatesSchema,
  rolloutPolicySchema,
  rolloutWaveSchema,
} from './rollout-policy.js';
export {
  KNOWN_SETTING_NAMES,
  SETTING_STATUS,
  type SettingStatus,
  type SettingStatusEntry,
  settingStatus,
} from './setting-status.js';
export {
  formatSettingNotice,
  reportCelerySettings,
  type SettingIssue,
  type SettingNotice,
  type SettingsReport,
  settingNotice,
} from './settings-report.js';
export {
  formatIssues,
  formatPath,
  type ValidationIssue,
  type ValidationResult,
  validateEffectiveConfig,
  validateLayer,
} from './validate.js';
export { WORKER_RECYCLE_EXIT_CODE } from './worker-recycle.js';
