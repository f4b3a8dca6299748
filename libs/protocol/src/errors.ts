/** Base class of every error this package throws; `code` is stable and safe to match on. */
export class ProtocolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A rate-limit setting that is not in Celery's `<number>[/s|/m|/h]` form. */
export class RateLimitFormatError extends ProtocolError {
  readonly value: unknown;
  constructor(value: unknown) {
    super(
      'RATE_LIMIT_FORMAT',
      `invalid rate limit ${JSON.stringify(value) ?? String(value)}: use a non-negative number of tasks per second ` +
        `or a string "<number>/s", "<number>/m" or "<number>/h" (lower-case unit), or "0"/""/null for unlimited`,
    );
    this.value = value;
  }
}

/** A value that cannot be put on the wire (an invalid Date, a body the serializer cannot represent, ...). */
export class EncodeError extends ProtocolError {
  constructor(message: string) {
    super('ENCODE_FAILED', message);
  }
}

/** A stored result document that is not a JSON object with a string `status`. */
export class ResultDecodeError extends ProtocolError {
  constructor(message: string) {
    super('RESULT_DECODE_FAILED', message);
  }
}
