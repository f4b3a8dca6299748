/** Every `code` an error of this package can carry. */
export type ProtocolErrorCode =
  | 'PROTOCOL_RATE_LIMIT_FORMAT'
  | 'PROTOCOL_ENCODE_FAILED'
  | 'PROTOCOL_RESULT_DECODE_FAILED'
  | 'PROTOCOL_SERIALIZER_UNSUPPORTED'
  | 'PROTOCOL_REMOTE_TASK_FAILED';

/** Base class of the errors this package throws; `code` is stable and safe to match on. */
export class ProtocolError extends Error {
  static readonly codes: readonly ProtocolErrorCode[] = [
    'PROTOCOL_RATE_LIMIT_FORMAT',
    'PROTOCOL_ENCODE_FAILED',
    'PROTOCOL_RESULT_DECODE_FAILED',
    'PROTOCOL_SERIALIZER_UNSUPPORTED',
  ];
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A rate-limit setting that is not in Celery's `<number>[/s|/m|/h]` form. */
export class RateLimitFormatError extends ProtocolError {
  static override readonly codes = ['PROTOCOL_RATE_LIMIT_FORMAT'] as const;
  readonly value: unknown;
  constructor(value: unknown) {
    super(
      'PROTOCOL_RATE_LIMIT_FORMAT',
      `invalid rate limit ${JSON.stringify(value) ?? String(value)}: use a non-negative number of tasks per second ` +
        `or a string "<number>/s", "<number>/m" or "<number>/h" (lower-case unit), or "0"/""/null for unlimited`,
    );
    this.value = value;
  }
}

/**
 * A value that cannot be put on the wire (an invalid Date, a body the serializer cannot represent,
 * ...). Not kombu's `EncodeError`: the worker stores that one (worker-runtime `celery-exceptions`).
 */
export class ProtocolEncodeError extends ProtocolError {
  static override readonly codes = ['PROTOCOL_ENCODE_FAILED'] as const;
  constructor(message: string) {
    super('PROTOCOL_ENCODE_FAILED', message);
  }
}

/** A stored result document that is not a JSON object with a string `status`. */
export class ResultDecodeError extends ProtocolError {
  static override readonly codes = ['PROTOCOL_RESULT_DECODE_FAILED'] as const;
  constructor(message: string) {
    super('PROTOCOL_RESULT_DECODE_FAILED', message);
  }
}

/**
 * A `result_serializer` other than `json` or `msgpack`. pickle and yaml are refused, never
 * ignored: they can run code when a result is read, and a worker that silently stored JSON
 * instead would break every client that expects the configured format.
 */
export class SerializerUnsupportedError extends ProtocolError {
  static override readonly codes = ['PROTOCOL_SERIALIZER_UNSUPPORTED'] as const;
  readonly setting: string;
  readonly value: unknown;
  constructor(setting: string, value: unknown) {
    const shown = JSON.stringify(value) ?? String(value);
    const why =
      value === 'pickle' || value === 'yaml'
        ? ` (${value} can run code when a result is read, so Celeriac never reads or writes it)`
        : '';
    super(
      'PROTOCOL_SERIALIZER_UNSUPPORTED',
      `${setting} ${shown} is not supported${why}: Celeriac stores results as "json" or "msgpack"; ` +
        `set ${setting} to one of them (and list it in result_accept_content/accept_content of the clients)`,
    );
    this.setting = setting;
    this.value = value;
  }
}
