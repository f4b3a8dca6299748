export { type HttpRequestOptions, type HttpTextResponse, requestText, tlsTrustProblem } from './http-request.js';
export { raceTimeout, sleep, TIMED_OUT } from './race-timeout.js';
export {
  type AtomicWriteOptions,
  isAtomicTempFile,
  syncDirectory,
  writeFileAtomic,
  writeFileAtomicSync,
} from './write-file-atomic.js';
