// The settings check the worker runs at start, the same as conf.report() (docs/settings.md).
export {
  formatSettingNotice,
  reportCelerySettings,
  type SettingNotice,
  type SettingsReport,
} from '@celeriac/config-schema/settings-report';
// Protocol types and the remote error class users meet through this package.
export {
  RemoteTaskError,
  type ResultDocument,
  type Serializer,
  type Signature,
  type TaskState,
} from '@celeriac/protocol';
// A stored result in a serializer result_accept_content does not allow: what get() throws for it.
export { ResultContentDisallowedError } from '@celeriac/result-backend';
export { annotationsFor, type TaskAnnotations } from './annotations.js';
export { AppControl, type ControlRevokeOptions, Inspect, type InspectOptions } from './app-control.js';
export type { ApplyOptions } from './apply-options.js';
export { AsyncResult, type GetOptions, type ResultSource, type RevokeOptions, type Revoker } from './async-result.js';
export { buildOutgoing, NO_TASK_OPTIONS, type OutgoingContext } from './build-outgoing.js';
export { CanvasError } from './canvas-errors.js';
export { type FreezeArgs, type Frozen, freeze, prepareSteps } from './canvas-freeze.js';
export { Chunks, chunks, MapSignature, type MapTarget, xmap, xstarmap } from './canvas-map.js';
export { chainOf, pipe } from './canvas-pipe.js';
export {
  type CanvasCallOptions,
  type CanvasPlan,
  freezeSignature,
  type PlannedMessage,
  planCanvas,
} from './canvas-plan.js';
export { applyOptionsOf, type CanvasApp, canvasAppOf, sendCanvas, sendPlan } from './canvas-send.js';
export {
  asSignature,
  chainSignature,
  chordSignature,
  chunkSignatures,
  groupMembers,
  groupSignature,
  mapSignature,
  type SignatureKind,
  signatureKind,
  starmapSignature,
} from './canvas-shapes.js';
export { Celeriac, type CeleriacOptions, type CeleriacState } from './celeriac.js';
export { Chain, type ChainPlan, type ChainSender, chain, planChain } from './chain.js';
export { type Chord, chord, chordHeaderOf } from './chord.js';
export { CeleriacConf } from './conf.js';
export { type CurrentTask, currentTask, runAsCurrentTask } from './current-task.js';
export { CELERY_DEFAULTS } from './defaults.js';
export { EagerResult } from './eager-result.js';
export {
  ApplyOptionsError,
  BatchPartiallySentError,
  CeleriacError,
  ChainError,
  ClientClosedError,
  type ClientErrorCode,
  ConfigError,
  TaskAlreadyRegisteredError,
  TaskDefinitionError,
  TaskRevokedError,
  TimeoutError,
} from './errors.js';
export { type CanvasLike, type CanvasOptions, Group, group, toSignature } from './group.js';
export { type GroupMember, GroupResult, resultFromTuple } from './group-result.js';
export {
  compileRoutes,
  expandRoute,
  globToRegExp,
  type Route,
  type RouteMap,
  type RouteMatcher,
  type RoutePair,
  type RouterFn,
  type RouteSpec,
  resolveRoute,
  routeFor,
  type TaskRoutes,
} from './router.js';
export { signature } from './signature.js';
export { Task, type TaskSender } from './task.js';
export { TASK_OPTION_NAMES, type TaskFn, type TaskOptions, taskOptionProblems } from './task-options.js';
