export { type BroadcastOptions, ControlClient, type ControlClientOptions, type NodeReply } from './control-client.js';
export { COMMAND_NAMES } from './control-commands.js';
export { ControlServer, type ControlServerOptions, type ControlServerState } from './control-server.js';
export type {
  ActiveQueueInfo,
  ControlTarget,
  MaybePromise,
  QueriedTask,
  RegisteredTaskInfo,
  ScheduledRequestInfo,
  TaskRequestInfo,
  TaskSettingResult,
  WorkerStatsInfo,
} from './control-target.js';
export {
  ControlArgumentError,
  ControlClosedError,
  type ControlErrorCode,
  ControlPlaneError,
  ControlUnavailableError,
} from './errors.js';
export { EventDispatcher, type EventDispatcherOptions } from './event-dispatcher.js';
export type { EventMessage, EventTransport } from './event-transport.js';
export type { TaskEventFields, TaskEventType, WorkerEventFields, WorkerEventType } from './event-types.js';
export { LamportClock } from './lamport-clock.js';
export { type MingleOptions, mingle } from './mingle.js';
export type {
  PidboxClientTransport,
  PidboxMessage,
  PidboxNodeTransport,
  PidboxOutgoing,
} from './pidbox-transport.js';
export { REVOKE_EXPIRES_MS, REVOKES_MAX, RevokedSet, type RevokedSetOptions } from './revoked-set.js';
export { revokedKey } from './wire-names.js';
export {
  CELERIAC_SW_IDENT,
  CELERIAC_SW_VER,
  type WorkerCounters,
  WorkerHeart,
  type WorkerHeartOptions,
} from './worker-heart.js';
