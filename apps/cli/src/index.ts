// The `celeriac` package: what an application imports to define, send and run tasks.
export {
  type ApplyOptions,
  ApplyOptionsError,
  AsyncResult,
  BatchPartiallySentError,
  Celeriac,
  CeleriacConf,
  CeleriacError,
  type CeleriacOptions,
  Chain,
  ChainError,
  ClientClosedError,
  ConfigError,
  chain,
  type GetOptions,
  RemoteTaskError,
  ResultContentDisallowedError,
  type ResultDocument,
  type Route,
  type RouteSpec,
  routeFor,
  type Serializer,
  type Signature,
  signature,
  Task,
  TaskAlreadyRegisteredError,
  type TaskAnnotations,
  TaskDefinitionError,
  type TaskFn,
  type TaskOptions,
  TaskRevokedError,
  type TaskRoutes,
  type TaskSender,
  type TaskState,
  TimeoutError,
} from '@celeriac/client';
export { createLogger, type Logger, type LoggerOptions } from '@celeriac/logger';
export {
  type RetryOptions,
  type TaskContext,
  Worker,
  type WorkerOptions,
  type WorkerState,
} from '@celeriac/worker-runtime';
// The errors of the `celeriac` command (config, nodes, center, up), for the error catalogue and for scripts.
export { CenterRequestError } from './ops/center-client.js';
export { CliError, type CliErrorCode, CliUsageError } from './ops/cli-errors.js';
