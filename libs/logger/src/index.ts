export { createLogger, type LogFields, type Logger, type LoggerOptions, type LogMethod } from './create-logger.js';
export { EVENT_PATTERN, logSchemaViolations } from './log-schema.js';
export { redactSecrets, redactUrl } from './redact.js';
export { type SerializedError, serializeError } from './serialize-error.js';
