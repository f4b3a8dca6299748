// Tasks of the AMQP fleet end-to-end test (test/e2e/amqp-fleet.test.ts, support/fleet-task-app.mjs).
// The broker is RabbitMQ, so completion is recorded on the Redis of the result backend.
import { Redis } from 'ioredis';
import { fleetTaskApp } from './fleet-task-app.mjs';

export const app = fleetTaskApp('amqp-fleet', 'result_backend');

// tasks.span keeps `[start, end]` (ms) of each run in the list `fleet:spans`, written before the
// run ends (so before its fleet concurrency slot is given back): under `fleet_concurrency: n`, no
// instant is inside more than n spans.
let spans;
app.task('tasks.span', async () => {
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 300));
  spans ??= new Redis(String(app.conf.settings.result_backend), { maxRetriesPerRequest: null });
  await spans.rpush('fleet:spans', JSON.stringify([start, Date.now()]));
});
const close = app.close.bind(app);
app.close = async () => {
  await spans?.quit().catch(() => undefined);
  return close();
};
