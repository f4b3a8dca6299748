// What the chaos task modules (agent-kill-tasks.mjs, mixed-eta-tasks.mjs) share to record each run
// of a task: Redis clients on the app's broker and result backend, and the state the backend held
// for the task when its run began (a redelivery of a task whose result was already stored says
// SUCCESS), so a test can tell why a task ran twice.
import { Redis } from 'ioredis';

/**
 * Returns a function giving `app`'s Redis clients, opened on first use: `broker` on broker_url,
 * `results` on result_backend. Both are closed when the app closes.
 */
export function runRecordClients(app) {
  let broker;
  let results;
  const close = app.close.bind(app);
  app.close = async () => {
    await broker?.quit().catch(() => undefined);
    await results?.quit().catch(() => undefined);
    return close();
  };
  return () => {
    broker ??= new Redis(String(app.conf.settings.broker_url), { maxRetriesPerRequest: null });
    results ??= new Redis(String(app.conf.settings.result_backend), { maxRetriesPerRequest: null });
    return { broker, results };
  };
}

/** The status of task `id`'s result document on `results` ('-' when there is none, '?' when it has none). */
export async function storedState(results, id) {
  const doc = await results.get(`celery-task-meta-${id}`);
  return doc === null ? '-' : (JSON.parse(doc).status ?? '?');
}
