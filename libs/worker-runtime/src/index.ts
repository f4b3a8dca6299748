export {
  CeleryException,
  ContentDisallowed,
  DecodeError,
  EncodeError,
  MaxRetriesExceededError,
  NotRegistered,
  Retry,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
} from './celery-exceptions.js';
export { WorkerError, type WorkerErrorCode } from './errors.js';
export { EtaScheduler } from './eta-scheduler.js';
export { EventLoopWatchdog } from './event-loop-watchdog.js';
export { RateLimiter } from './rate-limiter.js';
export type { RetryOptions, TaskContext } from './task-context.js';
export { TokenBucket } from './token-bucket.js';
export {
  Worker,
  type WorkerBackend,
  type WorkerBroker,
  type WorkerOptions,
  type WorkerState,
  type WorkerStats,
} from './worker.js';
export type { TaskFn, WorkerApp, WorkerRoute, WorkerTask, WorkerTaskOptions } from './worker-app.js';
export { readWorkerSettings, type WorkerSettings } from './worker-settings.js';
