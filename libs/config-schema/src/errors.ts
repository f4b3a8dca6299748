/** Base class of the errors this package throws; `code` is stable, `message` says what to do. */
export class ConfigSchemaError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A duration such as "30s" could not be read. */
export class DurationFormatError extends ConfigSchemaError {
  constructor(value: unknown) {
    super(
      'DURATION_FORMAT',
      `${JSON.stringify(value)} is not a duration; use a number of seconds or a string like "500ms", "30s", "2m" or "1h"`,
    );
  }
}
