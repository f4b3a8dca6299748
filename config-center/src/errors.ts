/** One problem found while validating a document, with the JSON path it is about. */
export interface ValidationIssue {
  path: string;
  message: string;
  /** Set when the issue is in the effective config of a node rather than in the layer itself. */
  node?: string;
}

/** Stable error codes of the center's HTTP API. */
export type CenterErrorCode =
  | 'VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PRECONDITION_REQUIRED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_TIMEOUT'
  | 'SERVICE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'INTERNAL';

const STATUS: Record<CenterErrorCode, number> = {
  VALIDATION_FAILED: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION_REQUIRED: 428,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REQUEST_TIMEOUT: 408,
  SERVICE_UNAVAILABLE: 503,
  STORE_CORRUPT: 500,
  INTERNAL: 500,
};

/** An error the API answers as `{ error: { code, message, issues?, current_revision? } }`. */
export class CenterError extends Error {
  readonly code: CenterErrorCode;
  readonly statusCode: number;
  readonly issues: ValidationIssue[] | undefined;
  readonly currentRevision: number | undefined;

  constructor(
    code: CenterErrorCode,
    message: string,
    extra: { issues?: ValidationIssue[]; currentRevision?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'CenterError';
    this.code = code;
    this.statusCode = STATUS[code];
    this.issues = extra.issues;
    this.currentRevision = extra.currentRevision;
  }

  /** The JSON body sent to the client. */
  toJSON(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.issues) error.issues = this.issues;
    if (this.currentRevision !== undefined) error.current_revision = this.currentRevision;
    return { error };
  }
}
