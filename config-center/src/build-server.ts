import type { Logger } from '@celeriac/logger';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { CenterMetrics } from './center-metrics.js';
import { ConfigService } from './config-service.js';
import { CenterError } from './errors.js';
import { LongPollHub } from './long-poll-hub.js';
import { registerConsoleRoutes } from './routes/console-routes.js';
import { registerLayerRoutes } from './routes/layer-routes.js';
import { registerNodeRoutes } from './routes/node-routes.js';
import { registerRevisionRoutes } from './routes/revision-routes.js';
import type { RouteContext } from './routes/route-context.js';
import { registerSystemRoutes } from './routes/system-routes.js';
import { registerTokenRoutes } from './routes/token-routes.js';
import type { ConfigStore } from './store/config-store.js';
import { TokenService } from './token-service.js';

/** Options of the center's HTTP server. */
export interface CenterServerOptions {
  /** Where revisions, tokens and statuses live; the server starts and closes it. */
  store: ConfigStore;
  logger: Logger;
  /** The first admin token (from CELERIAC_ADMIN_TOKEN or --admin-token-file). */
  adminToken?: string;
  /** Called once with a generated admin token when none was given and the store has no admin yet. */
  onAdminTokenGenerated?: (token: string) => void;
  /** Largest request body; default 1 MiB. */
  bodyLimitBytes?: number;
  /** Longest long-poll wait honoured; default 60 s. */
  maxWaitMs?: number;
  /** The agents' heartbeat period; a node is stale after 3 of them. Default 10 s. */
  heartbeatMs?: number;
  /** Time allowed to receive a whole request; default 30 s. */
  requestTimeoutMs?: number;
  /** Version shown in the OpenAPI document. */
  version?: string;
}

const MERGE_PATCH = 'application/merge-patch+json';

/**
 * Builds the center (not yet listening): opens the store, loads every revision, makes sure an
 * admin token exists and registers the routes. `close()` answers held long-polls with 304 and
 * closes the store.
 */
export async function buildServer(options: CenterServerOptions): Promise<FastifyInstance> {
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const hub = new LongPollHub();
  const service = new ConfigService(options.store, hub, options.logger);
  const tokens = new TokenService(options.store);
  try {
    await service.start();
    const generated = await tokens.ensureBootstrapAdmin(options.adminToken);
    if (generated !== undefined) options.onAdminTokenGenerated?.(generated);
  } catch (error) {
    await service.close();
    throw error;
  }

  const app = Fastify({
    loggerInstance: options.logger as unknown as FastifyBaseLogger,
    // A line per request would be thousands of lines per minute with long-polling agents.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // Idle sockets of held long-polls must outlive the longest wait.
    connectionTimeout: maxWaitMs + 15_000,
    handlerTimeout: maxWaitMs + 10_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.addContentTypeParser(MERGE_PATCH, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'ignore'));

  const metrics = new CenterMetrics();
  const context: RouteContext = {
    service,
    tokens,
    hub,
    metrics,
    logger: options.logger,
    maxWaitMs,
    staleAfterMs: 3 * (options.heartbeatMs ?? 10_000),
  };

  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const error = new CenterError(
      'NOT_FOUND',
      `there is no ${request.method} ${request.url.split('?')[0]}; see /v1/openapi.json`,
    );
    return reply.code(error.statusCode).send(error.toJSON());
  });
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const centerError = toCenterError(error);
    if (
      centerError.code === 'INTERNAL' ||
      centerError.code === 'SERVICE_UNAVAILABLE' ||
      centerError.code === 'STORE_CORRUPT'
    ) {
      request.log.error(
        { event: 'center.request_failed', err: error, route: request.routeOptions.url },
        'request failed',
      );
    }
    return reply.code(centerError.statusCode).send(centerError.toJSON());
  });

  registerSystemRoutes(app, context, options.version ?? '0.1.0');
  registerLayerRoutes(app, context);
  registerNodeRoutes(app, context);
  registerRevisionRoutes(app, context);
  registerTokenRoutes(app, context);
  registerConsoleRoutes(app, context);

  // Answer held long-polls (304) before the server waits for in-flight requests.
  app.addHook('preClose', async () => {
    hub.close();
  });
  app.addHook('onClose', async () => {
    await service.close();
  });
  return app;
}

function toCenterError(error: FastifyError): CenterError {
  if (error instanceof CenterError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CenterError(
        'PAYLOAD_TOO_LARGE',
        'the request body is too large; a layer document may be at most 1 MiB',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new CenterError(
        'UNSUPPORTED_MEDIA_TYPE',
        'send the body as application/json (or application/merge-patch+json for PATCH)',
      );
    case 'FST_ERR_HANDLER_TIMEOUT':
      return new CenterError('SERVICE_UNAVAILABLE', 'the center took too long to answer; retry');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CenterError('BAD_REQUEST', 'the body is empty; send a JSON document');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new CenterError('BAD_REQUEST', `the body is not valid JSON: ${error.message}`);
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new CenterError('BAD_REQUEST', `the body is not valid JSON: ${error.message}`);
  }
  if (error.statusCode === 408) return new CenterError('REQUEST_TIMEOUT', 'the request took too long to arrive; retry');
  if (error.statusCode === 503)
    return new CenterError('SERVICE_UNAVAILABLE', 'the center is shutting down; retry on another replica');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new CenterError('BAD_REQUEST', error.message);
  }
  return new CenterError('INTERNAL', 'the center failed to handle the request; see its log', { cause: error });
}
