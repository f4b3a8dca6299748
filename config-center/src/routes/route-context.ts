import { formatPath } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { authorize, type Permission } from '../access-policy.js';
import type { CenterMetrics } from '../center-metrics.js';
import type { ConfigService } from '../config-service.js';
import { CenterError, type ValidationIssue } from '../errors.js';
import type { HealthHistory } from '../health-history.js';
import type { LongPollHub } from '../long-poll-hub.js';
import type { TokenService } from '../token-service.js';
import type { Author, TokenRecord } from '../types.js';

/** What every route module gets. */
export interface RouteContext {
  service: ConfigService;
  tokens: TokenService;
  hub: LongPollHub;
  metrics: CenterMetrics;
  /** Each node's reported health over the last hour (GET /v1/health/history). */
  healthHistory: HealthHistory;
  logger: Logger;
  /** Longest long-poll wait a client may ask for. */
  maxWaitMs: number;
  /** A node not seen for this long is stale (3 heartbeats). */
  staleAfterMs: number;
}

/** Authenticates the request (401) and checks the permission (403); returns the token. */
export async function guard(
  context: RouteContext,
  request: FastifyRequest,
  permission: Permission,
  node?: string,
): Promise<TokenRecord> {
  const token = await context.tokens.authenticate(request.headers.authorization);
  authorize(token, permission, node);
  return token;
}

/** The author recorded in a revision. */
export function authorOf(token: TokenRecord): Author {
  return { token_id: token.id, name: token.name, role: token.role };
}

/** Parses a non-negative integer from a query string or header, or throws a 400 naming the parameter. */
export function parseRevisionNumber(value: unknown, what: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value)
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  if (!/^\d{1,15}$/.test(text)) {
    throw new CenterError(
      'CENTER_BAD_REQUEST',
      `${what} must be a revision number (a whole number of 0 or more), not ${JSON.stringify(String(value).slice(0, 40))}`,
    );
  }
  return Number(text);
}

/**
 * The request body parsed by `schema`, or a VALIDATION_FAILED error listing every issue, with the
 * message `refused(issues)` says.
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, refused: (issues: ValidationIssue[]) => string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  throw new CenterError('CENTER_VALIDATION_FAILED', refused(issues), { issues });
}
