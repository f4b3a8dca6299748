import { CENTER_ERROR_CODES, CENTER_ERROR_STATUS, type CenterErrorCode } from '@celeriac/config-schema';

export type { CenterErrorCode } from '@celeriac/config-schema';

/** One problem found while validating a document, with the JSON path it is about. */
export interface ValidationIssue {
  path: string;
  message: string;
  /** Set when the issue is in the effective config of a node rather than in the layer itself. */
  node?: string;
}

/** An error the API answers as `{ error: { code, message, issues?, current_revision? } }`. */
export class CenterError extends Error {
  /** Every code, with its HTTP status in `CENTER_ERROR_STATUS` (part of the API contract in config-schema). */
  static readonly codes: readonly CenterErrorCode[] = CENTER_ERROR_CODES;
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
    this.statusCode = CENTER_ERROR_STATUS[code];
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

/** Codes of the errors that stop a center from starting (no HTTP status: nothing listens yet). */
export type CenterStartErrorCode = (typeof CenterStartError.codes)[number];

/** The center cannot start: a bad option, a store it cannot use, or an address it cannot listen on. */
export class CenterStartError extends Error {
  static readonly codes = [
    'CENTER_BAD_OPTION',
    'CENTER_LISTEN_FAILED',
    'CENTER_DATA_DIR_LOCKED',
    'CENTER_STORE_CORRUPT',
    'CENTER_STORE_UNREACHABLE',
  ] as const;
  readonly code: CenterStartErrorCode;

  constructor(code: CenterStartErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CenterStartError';
    this.code = code;
  }
}
