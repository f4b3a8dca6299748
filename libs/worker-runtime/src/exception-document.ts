import { encodeExceptionResult } from '@celeriac/protocol';
import { CeleryException } from './celery-exceptions.js';

/** The `result` and `traceback` of a FAILURE/RETRY/REVOKED document for an error. */
export function exceptionDocument(
  error: unknown,
  withTraceback = true,
): { result: { exc_type: string; exc_message: unknown[]; exc_module: string }; traceback: string | null } {
  if (error instanceof CeleryException) {
    return {
      result: { exc_type: error.name, exc_message: error.excArgs, exc_module: error.excModule },
      traceback: withTraceback ? (error.stack ?? `${error.name}: ${error.message}`) : null,
    };
  }
  const encoded = encodeExceptionResult(error);
  return { result: encoded.result, traceback: withTraceback ? encoded.traceback : null };
}
