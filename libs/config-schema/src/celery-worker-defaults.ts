/**
 * Settings the agent writes into a Python `celery-worker` program's `celeryconfig.py` when the
 * layers leave them unset. Task events are how the agent measures a Python worker's outcomes and
 * runtimes (apps/agent/src/health-celery-events.ts reads received, started, succeeded, failed,
 * retried, rejected and revoked, all sent by the worker itself); without them a rollout gate would
 * judge the program blind. `task_send_sent_event` is not set: `task-sent` comes from producers and
 * the agent does not read it.
 */
export const CELERY_WORKER_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  worker_send_task_events: true,
});

/** `celery` with the defaults above filled in where a key is unset: what a Python worker runs with. */
export function withCeleryWorkerDefaults<T extends Record<string, unknown>>(celery: T): T {
  const out: Record<string, unknown> = { ...celery };
  for (const [key, value] of Object.entries(CELERY_WORKER_DEFAULTS)) if (out[key] === undefined) out[key] = value;
  return out as T;
}

/** Whether a Python worker run with `celery` sends task events: false only when the layers say so. */
export function celeryWorkerSendsTaskEvents(celery: Record<string, unknown>): boolean {
  return withCeleryWorkerDefaults(celery).worker_send_task_events !== false;
}
