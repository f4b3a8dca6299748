// Protocol types and the remote error class users meet through this package.
export {
  RemoteTaskError,
  type ResultDocument,
  type Serializer,
  type Signature,
  type TaskState,
} from '@celeriac/protocol';
export { annotationsFor, type TaskAnnotations } from './annotations.js';
export type { ApplyOptions } from './apply-options.js';
export { AsyncResult, type GetOptions, type ResultSource } from './async-result.js';
export { Celeriac, type CeleriacOptions } from './celeriac.js';
export { Chain, type ChainPlan, chain, planChain } from './chain.js';
export { CeleriacConf } from './conf.js';
export { CELERY_DEFAULTS } from './defaults.js';
export {
  ApplyOptionsError,
  BatchPartiallySentError,
  CeleriacError,
  ClientClosedError,
  ConfigError,
  TaskAlreadyRegisteredError,
  TaskRevokedError,
  TimeoutError,
} from './errors.js';
export {
  compileRoutes,
  expandRoute,
  globToRegExp,
  type Route,
  type RouteMap,
  type RoutePair,
  type RouterFn,
  type RouteSpec,
  routeFor,
  type TaskRoutes,
} from './router.js';
export { signature } from './signature.js';
export { Task } from './task.js';
export type { TaskFn, TaskOptions } from './task-options.js';
