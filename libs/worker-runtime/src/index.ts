export { taskQueuesFromSettings } from '@celeriac/broker';
export { BACKEND_CLEANUP_NOTE, BUILTIN_TASK_NAMES } from './builtin-tasks.js';
export {
  CeleryException,
  CeleryTaskRevokedError,
  ChordError,
  ContentDisallowed,
  DecodeError,
  EncodeError,
  MaxRetriesExceededError,
  NotRegistered,
  Retry,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
  WorkerLostError,
} from './celery-exceptions.js';
export type { ErrbackRequest } from './errbacks.js';
export { WorkerError, type WorkerErrorCode } from './errors.js';
export { EtaScheduler } from './eta-scheduler.js';
export { EventLoopWatchdog } from './event-loop-watchdog.js';
export { FleetLimiter, type FleetLimiterOptions, type FleetLimiterTarget, keyValueOf } from './fleet-limiter.js';
export { RateLimiter } from './rate-limiter.js';
export type { RetryOptions, TaskContext } from './task-context.js';
export {
  HEALTH_BUCKETS_S,
  HEALTH_COUNTERS,
  type HealthCounter,
  type HealthHistogram,
  TaskHealth,
  type TaskHealthCounts,
  taskHealth,
  UNKNOWN_TASK,
} from './task-health.js';
export {
  HEALTH_FILE_VERSION,
  type HealthFileContent,
  healthFileFor,
  startTaskHealthFile,
  TaskHealthFile,
} from './task-health-file.js';
export { TokenBucket } from './token-bucket.js';
export { Worker, type WorkerRecycle, type WorkerStats } from './worker.js';
export type { TaskFn, WorkerApp, WorkerRoute, WorkerTask, WorkerTaskOptions } from './worker-app.js';
export type { WorkerBackend, WorkerBroker, WorkerOptions } from './worker-options.js';
export { readWorkerSettings, type WorkerSettings } from './worker-settings.js';
export {
  WORKER_STATE_TRANSITIONS,
  type WorkerEvents,
  type WorkerState,
  type WorkerStateChange,
  type WorkerStateReason,
} from './worker-state.js';
