export { createLogger, type Logger, type LoggerOptions } from './create-logger.js';
export { redactSecrets, redactUrl } from './redact.js';
