import { type RolloutPolicy, rolloutPolicySchema } from '@celeriac/config-schema';
import type { FastifyInstance } from 'fastify';
import { CenterError } from '../errors.js';
import { EventStreams } from '../event-stream.js';
import { guard, parseBody, type RouteContext } from '../routes/route-context.js';
import type { RolloutCommand, RolloutController } from './rollout-controller.js';
import { RolloutFeed } from './rollout-feed.js';

const COMMANDS: readonly RolloutCommand[] = ['pause', 'resume', 'promote', 'abort'];

/**
 * The `rollout` member of a write's body, parsed (a 400 listing every problem when it is not a
 * policy; null bypasses any layer's default policy), and the body without it; undefined when the
 * body has none.
 */
export function rolloutOf(
  body: Record<string, unknown>,
): { policy: RolloutPolicy | null; rest: Record<string, unknown> } | undefined {
  if (!('rollout' in body)) return undefined;
  const { rollout, ...rest } = body;
  if (rollout === null) return { policy: null, rest };
  const policy = parseBody(
    rolloutPolicySchema,
    rollout,
    (issues) =>
      `the rollout policy was refused: ${issues.length} problem(s), listed in "issues" (see docs/rollouts.md)`,
  );
  return { policy, rest };
}

/**
 * GET /v1/rollouts[/:id], GET /v1/rollouts/stream (server-sent events: the list as a `rollouts`
 * event at once and after every change) and POST /v1/rollouts/:id/pause|resume|promote|abort.
 */
export function registerRolloutRoutes(app: FastifyInstance, context: RouteContext, rollouts: RolloutController): void {
  const feed = new RolloutFeed(rollouts);
  const streams = new EventStreams({ lifetimeMs: context.maxWaitMs });
  app.addHook('preClose', async () => {
    streams.closeAll();
    feed.close();
  });

  app.get('/v1/rollouts', async (request) => {
    await guard(context, request, 'nodes:read');
    // `driving`: whether this replica drives rollouts (holds the lease; always true with one replica).
    return { rollouts: rollouts.list(), driving: rollouts.driving };
  });

  // Registered before /v1/rollouts/:id so that "stream" is never taken for an id.
  app.get('/v1/rollouts/stream', async (request, reply) => {
    await guard(context, request, 'nodes:read');
    const stream = streams.start(reply);
    stream.send('rollouts', feed.current());
    stream.onClose(feed.subscribe((json) => stream.send('rollouts', json)));
  });

  app.get('/v1/rollouts/:id', async (request) => {
    await guard(context, request, 'nodes:read');
    return rollouts.get((request.params as { id: string }).id);
  });

  app.post('/v1/rollouts/:id/:command', async (request) => {
    const token = await guard(context, request, 'config:write');
    const { id, command } = request.params as { id: string; command: string };
    if (!(COMMANDS as readonly string[]).includes(command))
      throw new CenterError(
        'CENTER_NOT_FOUND',
        `there is no rollout command ${JSON.stringify(command)}; use ${COMMANDS.join(', ')}`,
      );
    const record = await rollouts.command(id, command as RolloutCommand, token.name);
    feed.poke();
    context.logger.info(
      { event: 'center.rollout_command', rollout: id, command, author: token.name, state: record.state },
      `rollout ${id}: ${command} by ${token.name}`,
    );
    return record;
  });
}
