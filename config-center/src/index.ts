export { authorize, mustMaskSecrets, type Permission } from './access-policy.js';
export { buildServer, type CenterServerOptions } from './build-server.js';
export { CenterState, type NodeView } from './center-state.js';
export { ConfigService, type WriteOutcome, type WriteRequest } from './config-service.js';
export {
  CenterError,
  type CenterErrorCode,
  CenterStartError,
  type CenterStartErrorCode,
  type ValidationIssue,
} from './errors.js';
export { findTooDeepInJson } from './json-body.js';
export { jsonDiff } from './json-diff.js';
export { LongPollHub, type WaitOutcome } from './long-poll-hub.js';
export { type NodeSummary, summarizeNode } from './node-summary.js';
export { buildOpenApiDocument } from './openapi.js';
export { maskSecrets } from './secret-mask.js';
export {
  createStore,
  parseListen,
  type RunningCenter,
  type RunningCenterState,
  type StartCenterOptions,
  startCenter,
} from './start-center.js';
export type { AppendExpectation, AppendResult, ConfigStore } from './store/config-store.js';
export { FileStore, type FileStoreOptions } from './store/file-store.js';
export { RedisStore, type RedisStoreOptions } from './store/redis-store.js';
export { parseRevisionLog } from './store/revision-log.js';
export { BOOTSTRAP_TOKEN_ID, hashToken, TokenService } from './token-service.js';
export type { Author, DiffEntry, NodeStatusRecord, Revision, RevisionKind, Role, TokenRecord } from './types.js';
export { ROLES } from './types.js';
