/** Every code an error of this package can carry. */
export type ConfigSchemaErrorCode = 'CONFIG_DURATION_FORMAT';

/** Base class of the errors this package throws; `code` is stable, `message` says what to do. */
export class ConfigSchemaError extends Error {
  static readonly codes: readonly ConfigSchemaErrorCode[] = ['CONFIG_DURATION_FORMAT'];
  readonly code: ConfigSchemaErrorCode;
  constructor(code: ConfigSchemaErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A duration such as "30s" could not be read. */
export class DurationFormatError extends ConfigSchemaError {
  static override readonly codes = ['CONFIG_DURATION_FORMAT'] as const;
  constructor(value: unknown) {
    super(
      'CONFIG_DURATION_FORMAT',
      `${JSON.stringify(value)} is not a duration; use a number of seconds or a string like "500ms", "30s", "2m" or "1h"`,
    );
  }
}
