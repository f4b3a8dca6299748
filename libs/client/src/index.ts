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
export { Celeriac, type CeleriacOptions, type CeleriacState } from './celeriac.js';
export { Chain, type ChainPlan, type ChainSender, chain, planChain } from './chain.js';
export { CeleriacConf } from './conf.js';
export { CELERY_DEFAULTS } from './defaults.js';
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
