export {
  backendRetrySleepMs,
  RESULT_BACKEND_RETRY_DEFAULTS,
  type ResultBackendRetry,
  resultBackendRetryFromSettings,
  withBackendRetry,
} from './backend-retry.js';
export {
  type ChordPart,
  decodeChordPart,
  encodeChordPart,
  GROUP_KEY_PREFIX,
  groupKey,
  type ResultTuple,
} from './chord-store.js';
export {
  ResultBackendArgumentError,
  ResultBackendClosedError,
  ResultBackendError,
  type ResultBackendErrorCode,
  ResultBackendScriptMissingError,
  ResultBackendUnavailableError,
  ResultContentDisallowedError,
} from './errors.js';
export { RESULT_KEY_PREFIX, resultKey, taskIdOfKey } from './keys.js';
export {
  RedisResultBackend,
  type ResultBackendOptions,
  type WaitForOptions,
} from './redis-result-backend.js';
export { isFinal } from './result-waiters.js';
