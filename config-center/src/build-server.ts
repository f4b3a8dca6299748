import { type Logger, redactSecrets } from '@celeriac/logger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CenterMetrics } from './center-metrics.js';
import { ConfigService } from './config-service.js';
import { CenterError } from './errors.js';
import { CenterLogController, fastifyLogger } from './fastify-logger.js';
import { limitHeapGrowth } from './heap-growth.js';
import { registerJsonBodyParsers } from './json-body.js';
import { LongPollHub } from './long-poll-hub.js';
import { RolloutController } from './rollout/rollout-controller.js';
import { RolloutRedisStore } from './rollout/rollout-redis-store.js';
import { registerRolloutRoutes } from './rollout/rollout-routes.js';
import { RolloutFileStore, RolloutMemoryStore, type RolloutStore } from './rollout/rollout-store.js';
import { registerConsoleRoutes } from './routes/console-routes.js';
import { registerHealthRoutes } from './routes/health-routes.js';
import { registerLayerRoutes } from './routes/layer-routes.js';
import { registerNodeRoutes } from './routes/node-routes.js';
import { registerRevisionRoutes } from './routes/revision-routes.js';
import type { RouteContext } from './routes/route-context.js';
import { registerSystemRoutes } from './routes/system-routes.js';
import { registerTokenRoutes } from './routes/token-routes.js';
import { healthHistoryFor } from './shared-health-history.js';
import type { ConfigStore } from './store/config-store.js';
import { RedisStore } from './store/redis-store.js';
import { TokenService } from './token-service.js';

/** PEM certificate (chain) and private key of an HTTPS center. */
export interface CenterTls {
  cert: Buffer | string;
  key: Buffer | string;
}

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
  /** Serve HTTPS (fastify's own https server) with this certificate and key. */
  tls?: CenterTls;
  /** Where rollout state is kept across restarts (a JSON file); in memory when absent. */
  rolloutStateFile?: string;
  /** How often rollout gates are evaluated; default 1 s. */
  rolloutTickMs?: number;
  /** With the Redis store: how long the lease of the replica driving rollouts lasts (default 10 s). */
  rolloutLeaseMs?: number;
  /** Seconds between two kept health points of a node (GET /v1/health/history); default 10. */
  healthStepS?: number;
  /**
   * V8's old generation may grow this much (percent) past the live heap before a major GC
   * (process-wide, see heap-growth.ts); default 100, 0 leaves V8's own dynamic factor.
   */
  heapGrowingPercent?: number;
}

/** Where rollouts are kept: in the Redis store shared by replicas, a file next to the file store, or memory. */
function rolloutStoreOf(options: CenterServerOptions): RolloutStore {
  if (options.store instanceof RedisStore) return new RolloutRedisStore(options.store);
  return options.rolloutStateFile ? new RolloutFileStore(options.rolloutStateFile) : new RolloutMemoryStore();
}

/**
 * Builds the center (not yet listening): opens the store, loads every revision, makes sure an
 * admin token exists and registers the routes. `close()` answers held long-polls with 304 and
 * closes the store.
 */
export async function buildServer(options: CenterServerOptions): Promise<FastifyInstance> {
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  limitHeapGrowth(options.heapGrowingPercent);
  const hub = new LongPollHub();
  const service = new ConfigService(options.store, hub, options.logger);
  const tokens = new TokenService(options.store);
  const rollouts = new RolloutController({
    service,
    store: rolloutStoreOf(options),
    logger: options.logger,
    wake: (node) => hub.wake(node),
    ...(options.rolloutTickMs !== undefined ? { tickMs: options.rolloutTickMs } : {}),
    ...(options.rolloutLeaseMs !== undefined ? { leaseMs: options.rolloutLeaseMs } : {}),
  });
  service.rollouts = rollouts;
  try {
    await service.start();
    await rollouts.start();
    const generated = await tokens.ensureBootstrapAdmin(options.adminToken);
    if (generated !== undefined) options.onAdminTokenGenerated?.(generated);
  } catch (error) {
    await rollouts.close();
    await service.close();
    throw error;
  }

  // fastify's https option gives an https.Server; the routes and hooks are the same.
  const app = Fastify({
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    loggerInstance: fastifyLogger(options.logger),
    // fastify's two lines per request are off; onResponse below writes one `center.request` line.
    logController: new CenterLogController(),
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // Idle sockets of held long-polls must outlive the longest wait.
    connectionTimeout: maxWaitMs + 15_000,
    handlerTimeout: maxWaitMs + 10_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  registerJsonBodyParsers(app);

  const metrics = new CenterMetrics();
  const context: RouteContext = {
    service,
    tokens,
    hub,
    metrics,
    healthHistory: healthHistoryFor(
      options.store,
      options.logger,
      options.healthStepS !== undefined ? { stepS: options.healthStepS } : {},
    ),
    logger: options.logger,
    maxWaitMs,
    staleAfterMs: 3 * (options.heartbeatMs ?? 10_000),
  };

  // A callback hook, not an async one: no promise per request (thousands answer at once).
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
    logRequest(options.logger, request, reply);
    done();
  });
  app.setNotFoundHandler(async (request, reply) => {
    const error = new CenterError(
      'CENTER_NOT_FOUND',
      `there is no ${request.method} ${request.url.split('?')[0]}; see /v1/openapi.json`,
    );
    return reply.code(error.statusCode).send(error.toJSON());
  });
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const centerError = toCenterError(error);
    if (centerError.code === 'CENTER_INTERNAL' || centerError.code === 'CENTER_SERVICE_UNAVAILABLE') {
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
  registerRolloutRoutes(app, context, rollouts);
  registerHealthRoutes(app, context, context.healthHistory, rollouts);

  // Answer held long-polls (304) before the server waits for in-flight requests.
  app.addHook('preClose', async () => {
    hub.close();
  });
  app.addHook('onClose', async () => {
    await rollouts.close();
    await service.close();
  });
  return app;
}

/** Requests that come all the time (reads, agents' long-polls and status reports) log at debug when they succeed. */
function isRoutine(request: FastifyRequest, status: number): boolean {
  if (status >= 400) return false;
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  return request.method === 'POST' && request.routeOptions.url === '/v1/nodes/:node/status';
}

/** One `center.request` line per answered request (writes and refusals at info, routine reads at debug). */
function logRequest(logger: Logger, request: FastifyRequest, reply: FastifyReply): void {
  const routine = isRoutine(request, reply.statusCode);
  // Thousands of long-polls answer at once: build nothing for a line that is not written.
  if (routine && !logger.isLevelEnabled('debug')) return;
  const fields = {
    event: 'center.request',
    request_id: request.id,
    method: request.method,
    url: redactSecrets(request.url),
    route: request.routeOptions.url ?? null,
    status_code: reply.statusCode,
    response_time_ms: Math.round(reply.elapsedTime * 10) / 10,
  } as const;
  const message = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} ${reply.statusCode}`;
  if (routine) logger.debug(fields, message);
  else logger.info(fields, message);
}

function toCenterError(error: FastifyError): CenterError {
  if (error instanceof CenterError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CenterError(
        'CENTER_PAYLOAD_TOO_LARGE',
        'the request body is too large; a layer document may be at most 1 MiB',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new CenterError(
        'CENTER_UNSUPPORTED_MEDIA_TYPE',
        'send the body as application/json (or application/merge-patch+json for PATCH)',
      );
    case 'FST_ERR_HANDLER_TIMEOUT':
      return new CenterError('CENTER_SERVICE_UNAVAILABLE', 'the center took too long to answer; retry');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CenterError('CENTER_BAD_REQUEST', 'the body is empty; send a JSON document');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new CenterError('CENTER_BAD_REQUEST', `the body is not valid JSON: ${error.message}`);
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new CenterError('CENTER_BAD_REQUEST', `the body is not valid JSON: ${error.message}`);
  }
  if (error.statusCode === 408)
    return new CenterError('CENTER_REQUEST_TIMEOUT', 'the request took too long to arrive; retry');
  if (error.statusCode === 503)
    return new CenterError('CENTER_SERVICE_UNAVAILABLE', 'the center is shutting down; retry on another replica');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new CenterError('CENTER_BAD_REQUEST', error.message);
  }
  return new CenterError('CENTER_INTERNAL', 'the center failed to handle the request; see its log', { cause: error });
}
