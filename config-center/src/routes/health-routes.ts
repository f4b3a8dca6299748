import type { FastifyInstance } from 'fastify';
import { mustMaskSecrets } from '../access-policy.js';
import { CenterError } from '../errors.js';
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

/**
 * GET /v1/health/history: the health the selected nodes reported over the window, their aggregate
 * per step, one node's own points with `node=`, and the revision markers (viewer and up).
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  context: RouteContext,
  history: HealthHistory,
  rollouts: RolloutList,
): void {
  const { service } = context;
  app.get('/v1/health/history', async (request) => {
    const token = await guard(context, request, 'nodes:read');
    const query = request.query as { window?: unknown; node?: unknown; selector?: unknown };
    const windowS = windowOf(query.window, history.windowS);
    const selector = selectorOf(query.selector);
    if (query.node !== undefined && typeof query.node !== 'string')
      throw new CenterError('CENTER_BAD_REQUEST', 'give node once, as one node name');
    const node = query.node === undefined ? undefined : assertNodeName(query.node);
    const now = Date.now();
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
      scope: 'replica',
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
    // Change messages may quote URLs with passwords.
    return mustMaskSecrets(token) ? maskSecrets(body) : body;
  });
}
