// Tasks of test/chaos/agent-replica-kills.test.ts. `tasks.add` records its completion per task id
// (`chaos:runs`) and in `chaos:completions` one line "<id> <pid> <ms> <stored>" where <stored> is
// the state of the task's result document in the backend when the run began (a redelivery of a task
// whose result was already stored says SUCCESS), so the test can tell why a task ran twice.
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

export const app = new Celeriac('chaos-agent');

let broker;
let results;
function clients() {
  broker ??= new Redis(String(app.conf.settings.broker_url), { maxRetriesPerRequest: null });
  results ??= new Redis(String(app.conf.settings.result_backend), { maxRetriesPerRequest: null });
  return { broker, results };
}

const close = app.close.bind(app);
app.close = async () => {
  await broker?.quit().catch(() => undefined);
  await results?.quit().catch(() => undefined);
  return close();
};

app.task(
  'tasks.add',
  async (ctx, a, b) => {
    const { broker: db, results: backend } = clients();
    const doc = await backend.get(`celery-task-meta-${ctx.id}`);
    const stored = doc === null ? '-' : (JSON.parse(doc).status ?? '?');
    await db
      .multi()
      .hincrby('chaos:runs', ctx.id, 1)
      .rpush('chaos:completions', `${ctx.id} ${process.pid} ${Date.now()} ${stored}`)
      .exec();
    return a + b;
  },
  { bind: true, params: ['a', 'b'] },
);
