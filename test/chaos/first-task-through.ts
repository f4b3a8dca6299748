import type { Celeriac } from '@celeriac/client';
import { pollUntil } from '../support/celery-poll.js';
import type { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';

/**
 * Sends `tasks.add(attempt, 100)` every 200 ms (each waited on for up to 3 s) until one completes
 * on `worker`, for up to 45 s: the first tries after an outage may meet the switch or the
 * reconnect. Resolves with the attempt that got through and its result; `what` names the wait.
 */
export async function firstTaskThrough(
  app: Celeriac,
  worker: CeleriacWorkerProcess,
  what: string,
): Promise<{ attempt: number; got: unknown }> {
  let attempt = 0;
  return pollUntil(
    async () => {
      attempt += 1;
      try {
        const result = await app.sendTask('tasks.add', [attempt, 100]);
        return { attempt, got: await result.get({ timeout: 3_000 }) };
      } catch {
        return undefined;
      }
    },
    { what, timeoutMs: 45_000, intervalMs: 200, detail: () => worker.program.tail() },
  );
}
