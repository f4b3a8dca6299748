/**
 * A broker or result backend URL (with its transport options and TLS settings) that cannot be
 * used. The message names the setting and the part that is wrong, never a password.
 */
export class RedisUrlError extends Error {
  static readonly codes = ['REDIS_URL_INVALID'] as const;
  readonly code = 'REDIS_URL_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

/**
 * TLS to Redis cannot work as configured: the server's certificate was refused (wrong CA,
 * self-signed, wrong host name, expired), or a certificate/key file cannot be read. Not retried.
 */
export class RedisTlsError extends Error {
  static readonly codes = ['REDIS_TLS_CERTIFICATE', 'REDIS_TLS_FILE'] as const;
  constructor(
    readonly code: (typeof RedisTlsError.codes)[number],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RedisTlsError';
  }
}
