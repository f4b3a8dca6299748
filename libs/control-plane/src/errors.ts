import { redactSecrets, redactUrl } from '@celeriac/logger';

/** Every `code` an error of the control plane can carry. */
export type ControlErrorCode = 'CONTROL_UNAVAILABLE' | 'CONTROL_CLOSED' | 'CONTROL_BAD_ARGUMENT';

/** Base class of every error the control plane raises; `code` is stable and safe to match on. */
export class ControlPlaneError extends Error {
  static readonly codes: readonly ControlErrorCode[] = [
    'CONTROL_UNAVAILABLE',
    'CONTROL_CLOSED',
    'CONTROL_BAD_ARGUMENT',
  ];

  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The broker (Redis or RabbitMQ) could not be reached (or failed) while binding, publishing or collecting replies. */
export class ControlUnavailableError extends ControlPlaneError {
  static override readonly codes = ['CONTROL_UNAVAILABLE'] as const;
  constructor(url: string, operation: string, cause: unknown) {
    const text = redactSecrets(cause instanceof Error ? cause.message : String(cause));
    const broker = /^(amqp|amqps|pyamqp):\/\//i.test(url) ? 'RabbitMQ' : 'Redis';
    super(
      'CONTROL_UNAVAILABLE',
      `control plane ${operation} failed: ${broker} at ${redactUrl(url)} is unavailable (${text}); ` +
        `check that the broker ${broker} is running and reachable, then retry`,
      { cause },
    );
  }
}

/** A component was used before start() or after close(). */
export class ControlClosedError extends ControlPlaneError {
  static override readonly codes = ['CONTROL_CLOSED'] as const;
  constructor(component: string, operation: string, state: string) {
    super(
      'CONTROL_CLOSED',
      `${component} ${operation} called while it is ${state}; call start() first and do not use it after close()`,
    );
  }
}

/** An argument is outside what Celery's mailbox accepts. */
export class ControlArgumentError extends ControlPlaneError {
  static override readonly codes = ['CONTROL_BAD_ARGUMENT'] as const;
  constructor(message: string) {
    super('CONTROL_BAD_ARGUMENT', message);
  }
}
