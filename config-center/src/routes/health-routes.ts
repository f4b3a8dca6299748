import type { FastifyInstance } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import { CenterError } from '../errors.js';
import { EventStreams } from '../event-stream.js';
import type { HealthHistory } from '../health-history.js';
import type { HealthHistoryResponse } from '../health-history-schema.js';
import { assertNodeName } from '../layer-name.js';
import { firstRevisionSince, revisionMarkers, revisionsChanging } from '../revision-markers.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import { maskSecrets } from '../secret-mask.js';
import { selectorOf } from './node-routes.js';
import { guard, type RouteContext } from './route-context.js';

/** What the health routes read of the rollouts: the records, for the cause of a rollback. */
export interface RolloutList {
  list(): RolloutRecord[];
}

/** The `window` query parameter in seconds: 1 to the history's window, default all of it. */
function windowOf(value: unknown, maxS: number): number {
  if (value === undefined || value === '') return maxS;
  const seconds = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(seconds) || seconds < 1 || seconds > maxS) {
    throw new CenterError(
      'CENTER_BAD_REQUEST',
      `window must be a whole number of seconds from 1 to ${maxS}, not ${JSON.stringify(String(value).slice(0, 40))}`,
    );
  }
  return seconds;
}

/** A health stream looks for new points this often, and sends when there are. */
export const HEALTH_STREAM_CHECK_MS = 1000;

/**
 * GET /v1/health/history: the health the selected nodes reported over the window, their aggregate
 * per step, one node's own points with `node=`, and the revision markers (viewer and up).
 * GET /v1/health/stream, with the same parameters: server-sent events, the same answer as a
 * `history` event at once and again whenever points or revisions were added (checked every second).
 * Starts and stops the sharing of a shared history with the server.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  context: RouteContext,
  history: HealthHistory,
  rollouts: RolloutList,
): void {
  const { service } = context;
  const streams = new EventStreams({ lifetimeMs: context.maxWaitMs });
  app.addHook('onReady', async () => history.start());
  app.addHook('preClose', async () => streams.closeAll());
  app.addHook('onClose', async () => history.close());

  /** The answer of a request, checked (400, 404) before anything is sent. */
  const answerOf = (query: { window?: unknown; node?: unknown; selector?: unknown }) => {
    const windowS = windowOf(query.window, history.windowS);
    const selector = selectorOf(query.selector);
    if (query.node !== undefined && typeof query.node !== 'string')
      throw new CenterError('CENTER_BAD_REQUEST', 'give node once, as one node name');
    const node = query.node === undefined ? undefined : assertNodeName(query.node);
    return (now: number): HealthHistoryResponse => {
      const selected = selector ? service.selectNodes(selector) : undefined;
      if (node !== undefined && !service.knownNodes().includes(node) && history.series(node, windowS, now).length === 0)
        throw new CenterError(
          'CENTER_NOT_FOUND',
          `node ${node} is unknown: it has no layer and its agent never reported; check the name`,
        );
      const sinceMs = now - windowS * 1000;
      const firstRevision = firstRevisionSince(service.state.revisions, sinceMs);
      const changed = (names: readonly string[]) =>
        revisionsChanging(
          names.map((name) => service.state.view(name).history),
          firstRevision,
        );
      const aggregate = history.sharedAggregate(`${windowS} ${query.selector ?? ''}`, selected, windowS, now);
      const body: HealthHistoryResponse = {
        now,
        window_s: windowS,
        step_s: history.stepS,
        carry_s: history.carrySteps * history.stepS,
        scope: history.scope,
        nodes: aggregate.nodes,
        fleet: aggregate.fleet,
        markers: revisionMarkers(
          service.state.revisions,
          rollouts.list(),
          sinceMs,
          selected ? changed(selected) : undefined,
        ),
      };
      if (node !== undefined)
        body.node = {
          node,
          points: history.series(node, windowS, now),
          revisions: [...changed([node])].sort((a, b) => a - b),
        };
      return body;
    };
  };

  app.get('/v1/health/history', async (request) => {
    const token = await guard(context, request, 'nodes:read');
    const body = answerOf(request.query as Record<string, unknown>)(Date.now());
    // Change messages may quote URLs with passwords.
    return mustMaskSecrets(token) ? maskSecrets(body) : body;
  });

  app.get('/v1/health/stream', async (request, reply) => {
    const token = await guard(context, request, 'nodes:read');
    const answer = answerOf(request.query as Record<string, unknown>);
    const masked = mustMaskSecrets(token);
    const json = () => {
      const body = answer(Date.now());
      return JSON.stringify(masked ? maskSecrets(body) : body);
    };
    // The first answer is built before the stream opens: a 404 is still an ordinary error answer.
    const first = json();
    const stream = streams.start(reply);
    stream.send('history', first);
    let seen = `${history.version} ${service.state.head}`;
    const timer = setInterval(() => {
      const now = `${history.version} ${service.state.head}`;
      if (now === seen) return;
      seen = now;
      try {
        stream.send('history', json());
      } catch (error) {
        context.logger.warn({ event: 'center.health_stream_failed', err: error }, 'a health stream failed; ended');
        stream.close();
      }
    }, HEALTH_STREAM_CHECK_MS);
    timer.unref();
    stream.onClose(() => clearInterval(timer));
  });
}
