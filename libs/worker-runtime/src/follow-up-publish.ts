import type { Logger } from '@celeriac/logger';
import type { OutgoingTask } from '@celeriac/protocol';
import type { WorkerApp } from './worker-app.js';

/** Builds follow-up messages; a malformed signature is logged and skipped, never fatal. */
export function buildFollowUps(logger: Logger, taskId: string, build: () => OutgoingTask[]): OutgoingTask[] {
  try {
    return build();
  } catch (error) {
    logger.error(
      { event: 'worker.follow_up_invalid', task_id: taskId, err: error },
      'A callback, errback or chain step of this task cannot be sent; skipped',
    );
    return [];
  }
}

/**
 * Publishes callbacks, errbacks or chain steps; resolves to the `children` of the ones sent (never
 * rejects). A `priority` (the finished task's, under `task_inherit_parent_priority`) replaces theirs.
 */
export async function publishFollowUps(
  app: WorkerApp,
  logger: Logger,
  taskId: string,
  followUps: OutgoingTask[],
  priority: number | null = null,
): Promise<unknown[]> {
  const children: unknown[] = [];
  if (priority !== null) for (const outgoing of followUps) outgoing.priority = priority;
  await Promise.all(
    followUps.map((outgoing) =>
      app.publish(outgoing).then(
        () => {
          children.push([[outgoing.id, null], null]);
        },
        (error: unknown) => {
          logger.error(
            { event: 'worker.follow_up_failed', task_id: taskId, follow_up: outgoing.task, err: error },
            'Could not publish a callback or chain step',
          );
        },
      ),
    ),
  );
  return children;
}
