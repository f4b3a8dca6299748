import { redactSecrets, redactUrl } from '@celeriac/logger';

/** Every `code` an error of the broker can carry. */
export type BrokerErrorCode =
  | 'BROKER_UNAVAILABLE'
  | 'BROKER_COMMAND_FAILED'
  | 'BROKER_CLOSED'
  | 'BROKER_BAD_ARGUMENT'
  | 'BROKER_SCRIPT_MISSING'
  | 'BROKER_DEAD_LETTER_BAD_INDEX'
  | 'BROKER_DEAD_LETTER_NOT_FOUND'
  | 'BROKER_DEAD_LETTER_NOT_REQUEUEABLE'
  | 'BROKER_UNROUTABLE'
  | 'BROKER_QUEUE_NOT_FOUND';

/** Base class of every error the broker raises; `code` is stable and safe to match on. */
export class BrokerError extends Error {
  static readonly codes: readonly BrokerErrorCode[] = [
    'BROKER_UNAVAILABLE',
    'BROKER_COMMAND_FAILED',
    'BROKER_CLOSED',
    'BROKER_BAD_ARGUMENT',
    'BROKER_SCRIPT_MISSING',
    'BROKER_DEAD_LETTER_BAD_INDEX',
    'BROKER_DEAD_LETTER_NOT_FOUND',
    'BROKER_DEAD_LETTER_NOT_REQUEUEABLE',
    'BROKER_UNROUTABLE',
    'BROKER_QUEUE_NOT_FOUND',
  ];

  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Redis could not be reached or the connection dropped; the operation may be retried once Redis is back. */
export class BrokerUnavailableError extends BrokerError {
  static override readonly codes = ['BROKER_UNAVAILABLE'] as const;
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
  static override readonly codes = ['BROKER_COMMAND_FAILED'] as const;
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
  static override readonly codes = ['BROKER_CLOSED'] as const;
  constructor(operation: string, state: 'not started' | 'closed') {
    super(
      'BROKER_CLOSED',
      `broker ${operation} called while the broker is ${state}; call start() first and do not use it after close()`,
    );
  }
}

/** An argument is outside what the broker accepts. */
export class BrokerArgumentError extends BrokerError {
  static override readonly codes = ['BROKER_BAD_ARGUMENT'] as const;
  constructor(message: string) {
    super('BROKER_BAD_ARGUMENT', message);
  }
}

/** A Lua script of the broker is not installed beside its code (a broken install). */
export class BrokerScriptMissingError extends BrokerError {
  static override readonly codes = ['BROKER_SCRIPT_MISSING'] as const;
  constructor(file: string, dir: string) {
    super('BROKER_SCRIPT_MISSING', `broker Lua script ${file} not found next to ${dir}; reinstall @celeriac/broker`);
  }
}

/**
 * A message published to a named exchange matched no binding (kombu drops it without a word): no
 * queue is bound to the exchange with a matching routing key, or no consumer listens to a fanout.
 */
export class BrokerUnroutableError extends BrokerError {
  static override readonly codes = ['BROKER_UNROUTABLE'] as const;
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly exchangeType: string,
  ) {
    super(
      'BROKER_UNROUTABLE',
      exchangeType === 'fanout'
        ? `no consumer listens to fanout exchange "${exchange}" (routing key "${routingKey}"): the message was not delivered; ` +
            'start a worker consuming a queue bound to it first'
        : `no queue is bound to ${exchangeType} exchange "${exchange}" with a binding matching routing key "${routingKey}": ` +
            `the message was not sent; list the queue with this exchange and routing key in task_queues, or start a worker ` +
            `consuming it (it declares _kombu.binding.${exchange})`,
    );
  }
}

/** A queue to consume is not in `task_queues` and `task_create_missing_queues` is false (Celery's QueueNotFound). */
export class BrokerQueueNotFoundError extends BrokerError {
  static override readonly codes = ['BROKER_QUEUE_NOT_FOUND'] as const;
  constructor(readonly queue: string) {
    super(
      'BROKER_QUEUE_NOT_FOUND',
      `queue "${queue}" is not defined in task_queues and task_create_missing_queues is false: ` +
        'add it to task_queues or set task_create_missing_queues to true',
    );
  }
}

/** Advice per dead-letter problem, appended to the message. */
const DEAD_LETTER_ADVICE = {
  BROKER_DEAD_LETTER_BAD_INDEX: 'indexes are integers from 0 (the newest record); offsets ≥ 0 and counts ≥ 1',
  BROKER_DEAD_LETTER_NOT_FOUND: 'list the records again: indexes count from the newest and shift as records arrive',
  BROKER_DEAD_LETTER_NOT_REQUEUEABLE:
    'it cannot be published again as stored; show it and republish the original message from its source',
} as const;

/** A dead-letter list operation named a record that is not there or cannot be replayed. */
export class BrokerDeadLetterError extends BrokerError {
  static override readonly codes = [
    'BROKER_DEAD_LETTER_BAD_INDEX',
    'BROKER_DEAD_LETTER_NOT_FOUND',
    'BROKER_DEAD_LETTER_NOT_REQUEUEABLE',
  ] as const;
  constructor(code: (typeof BrokerDeadLetterError.codes)[number], detail: string) {
    super(code, `dead-letter list: ${detail}; ${DEAD_LETTER_ADVICE[code]}`);
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
