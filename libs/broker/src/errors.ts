import { redactSecrets, redactUrl } from '@celeriac/logger';

/** Base class of every error the broker raises; `code` is stable and safe to match on. */
export class BrokerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Redis could not be reached or the connection dropped; the operation may be retried once Redis is back. */
export class BrokerUnavailableError extends BrokerError {
  constructor(url: string, operation: string, cause: unknown) {
    super(
      'BROKER_UNAVAILABLE',
      `broker ${operation} failed: Redis at ${redactUrl(url)} is unavailable (${describe(cause)}); ` +
        'check that Redis is running and reachable, the operation can be retried once it is back',
      { cause },
    );
  }
}

/** Redis answered with an error reply (wrong type, script error, out of memory, ...). */
export class BrokerCommandError extends BrokerError {
  constructor(url: string, operation: string, cause: unknown) {
    super(
      'BROKER_COMMAND_FAILED',
      `broker ${operation} failed: Redis at ${redactUrl(url)} replied with an error (${describe(cause)}); ` +
        'check the keys the broker uses (queue lists, unacked, unacked_index) hold the expected types',
      { cause },
    );
  }
}

/** The broker is not started, or already closed. */
export class BrokerClosedError extends BrokerError {
  constructor(operation: string, state: 'not started' | 'closed') {
    super(
      'BROKER_CLOSED',
      `broker ${operation} called while the broker is ${state}; call start() first and do not use it after close()`,
    );
  }
}

/** An argument is outside what the broker accepts. */
export class BrokerArgumentError extends BrokerError {
  constructor(message: string) {
    super('BROKER_BAD_ARGUMENT', message);
  }
}

function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  return redactSecrets(text);
}

/** Whether an ioredis error is a reply from the server (as opposed to a connection problem). */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}
