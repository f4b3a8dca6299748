export { formatCeleryDate, formatNaiveUtc, parseCeleryDate } from './celery-date.js';
export {
  COMPRESSION_NAMES,
  type CompressionType,
  compressBody,
  compressionProblem,
  compressionType,
  decompressBody,
} from './compression.js';
export { decodeTaskEnvelope } from './envelope-decode.js';
export { defaultOriginName, encodeTaskBody, encodeTaskEnvelope } from './envelope-encode.js';
export {
  ProtocolEncodeError,
  ProtocolError,
  type ProtocolErrorCode,
  RateLimitFormatError,
  ResultDecodeError,
  SerializerUnsupportedError,
} from './errors.js';
export {
  type ExceptionResult,
  encodeExceptionResult,
  exceptionFromResult,
  FOREIGN_EXC_MODULE,
  RemoteTaskError,
} from './exception-result.js';
export { PRIORITY_SEPARATOR, PRIORITY_STEPS, priorityQueueName, priorityStep } from './priority.js';
export { pyRepr, pyReprTuple, REPR_MAX_CHARS } from './py-repr.js';
export { parseRateLimit } from './rate-limit.js';
export { markRedelivered } from './redelivered.js';
export {
  buildResultDocument,
  DOCUMENT_SERIALIZER,
  decodeResultDocument,
  type ExtendedResultFields,
  encodeResult,
  READY_STATES,
  type ResultDocument,
  type ResultInput,
  type TaskState,
  toResultDocument,
} from './result-document.js';
export {
  decodeResultBytes,
  encodeResultDocument,
  RESULT_SERIALIZERS,
  resultSerializerOf,
  serializerAccepted,
  sniffResultSerializer,
} from './result-serializer.js';
export {
  acceptedContentTypes,
  CONTENT_ENCODING,
  CONTENT_TYPE,
  deserialize,
  type Serializer,
  serialize,
  serializerForContentType,
} from './serializers.js';
export { taskCallArguments } from './task-arguments.js';
export type {
  DecodeFailureCode,
  DecodeOptions,
  DecodeResult,
  OutgoingTask,
  Signature,
  TaskEmbed,
  TaskMessage,
} from './task-message.js';
export { uuid4 } from './uuid.js';
