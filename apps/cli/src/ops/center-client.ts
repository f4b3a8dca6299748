import { requestText, tlsTrustProblem } from '@celeriac/common';
import { redactSecrets, redactUrl } from '@celeriac/logger';
import type { CenterCa } from './center-ca.js';
import { CliError, EXIT } from './cli-errors.js';

/** Where the center is and who we are. */
export interface CenterClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8700. */
  url: string;
  token?: string | undefined;
  timeoutMs?: number;
  /** CAs an https:// center is verified against; the system CAs when absent. */
  ca?: CenterCa;
}

/** A JSON answer of the center. */
export interface CenterResponse<T = unknown> {
  status: number;
  etag: string | undefined;
  body: T;
}

/** What reads an answer: the zod schemas of config-schema (`layerResponseSchema`, ...) are ones. */
export interface AnswerSchema<T> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** Optional parts of a request. */
export interface RequestOptions<T> {
  body?: unknown;
  ifMatch?: number;
  query?: Record<string, string | number | undefined>;
  /** Reads the answer; without it the body is returned as it came. */
  schema?: AnswerSchema<T>;
}

/** The part of an error answer the CLI reads (a tolerant reading: any center version). */
interface ErrorBody {
  error?: {
    code?: string;
    message?: string;
    issues?: { path?: string; message?: string; node?: string }[];
    current_revision?: number;
  };
}

/** The exit code for an HTTP error status. */
export function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 400) return EXIT.validation;
  if (status === 409 || status === 428) return EXIT.conflict;
  return EXIT.other;
}

/** The center refused a request: its HTTP status, its own code (`CENTER_...`), message and field issues. */
export class CenterRequestError extends CliError {
  static override readonly codes = ['CLI_CENTER_REFUSED'] as const;
  readonly status: number;
  /** The center's code, e.g. `CENTER_VALIDATION_FAILED`; undefined when the answer had none. */
  readonly centerCode: string | undefined;
  readonly currentRevision: number | undefined;
  constructor(
    status: number,
    centerCode: string | undefined,
    message: string,
    details: string[],
    currentRevision: number | undefined,
  ) {
    super('CLI_CENTER_REFUSED', message, exitCodeForStatus(status), details);
    this.status = status;
    this.centerCode = centerCode;
    this.currentRevision = currentRevision;
  }
}

/** The thin HTTP client of the ops CLI: JSON in and out, bearer token, If-Match, and errors with exit codes. */
export class CenterClient {
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly ca: CenterCa | undefined;

  constructor(options: CenterClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.ca = options.ca;
  }

  /** The center URL without credentials, for messages. */
  get displayUrl(): string {
    return redactUrl(this.base);
  }

  /** Sends one request; the answer is read with `schema` (a refused one throws CenterRequestError). */
  request<T>(
    method: string,
    path: string,
    options: RequestOptions<T> & { schema: AnswerSchema<T> },
  ): Promise<CenterResponse<T>>;
  request(
    method: string,
    path: string,
    options?: Omit<RequestOptions<unknown>, 'schema'>,
  ): Promise<CenterResponse<unknown>>;
  async request<T>(method: string, path: string, options: RequestOptions<T> = {}): Promise<CenterResponse<T>> {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`;
    let response: Awaited<ReturnType<typeof requestText>>;
    try {
      response = await requestText(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        timeoutMs: this.timeoutMs,
        ...(this.ca ? { ca: this.ca.pem } : {}),
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    const { text } = response;
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status < 200 || response.status > 299) throw this.refused(method, path, response.status, body);
    const rawEtag = response.headers.etag;
    const etag = parseEtag(typeof rawEtag === 'string' ? rawEtag : null);
    if (!options.schema) return { status: response.status, etag, body: body as T };
    const parsed = options.schema.safeParse(body);
    if (parsed.success) return { status: response.status, etag, body: parsed.data };
    const [issue] = parsed.error.issues;
    // Not config-schema's formatPath: the `celeriac` package exports this class and must stay light to load.
    const where = issue ? `${issue.path.map(String).join('.')}: ${issue.message}` : '';
    throw new CliError(
      'CLI_BAD_ANSWER',
      `the center at ${this.displayUrl} answered ${method} ${path} with a body this CLI cannot read (${where || 'no body'}); ` +
        'use a CLI of the same version as the center',
      EXIT.other,
    );
  }

  private refused(method: string, path: string, status: number, body: unknown): CenterRequestError {
    const error = (body as ErrorBody | undefined)?.error;
    const details = (error?.issues ?? []).map(
      (issue) => `${issue.node ? `node ${issue.node}: ` : ''}${issue.path || '(document)'}: ${issue.message ?? ''}`,
    );
    let message = error?.message ?? `${method} ${path} failed with HTTP ${status}`;
    if (status === 401) message += '; give a token with --token or CELERIAC_TOKEN';
    if (status === 403) message += '; this token lacks the role for it (viewer tokens read, operator tokens write)';
    const code = typeof error?.code === 'string' ? error.code : undefined;
    return new CenterRequestError(status, code, message, details, error?.current_revision);
  }

  private unreachable(error: unknown): CliError {
    const tls = tlsTrustProblem(error, this.ca?.source);
    if (tls) {
      return new CliError(
        'CLI_CENTER_UNTRUSTED',
        `cannot talk to the config center at ${this.displayUrl}: ${tls}`,
        EXIT.other,
      );
    }
    const code = (error as NodeJS.ErrnoException)?.code;
    let reason = redactSecrets((error as Error)?.message ?? code ?? 'network error');
    if (code === 'ECONNREFUSED') reason = 'connection refused';
    else if (code === 'ENOTFOUND') reason = 'host not found';
    else if (code === 'ETIMEDOUT') reason = `no answer within ${this.timeoutMs} ms`;
    return new CliError(
      'CLI_CENTER_UNREACHABLE',
      `cannot reach the config center at ${this.displayUrl} (${reason}); check --center or CELERIAC_CENTER and that the center runs`,
      EXIT.other,
    );
  }
}

function parseEtag(value: string | null): string | undefined {
  return value === null ? undefined : value.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}
