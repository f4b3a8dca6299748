// Tasks of test/chaos/mixed-fleet-eta-kills.test.ts, twin of py/mixed_eta_tasks.py: `tasks.finish`
// sleeps `ms` milliseconds, then records its completion per task id (HINCRBY `mixed:runs` <id>, and
// RPUSH `mixed:log` "<id> ts <pid> <ms since epoch> <stored state at start>").
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

export const app = new Celeriac('mixed-eta');

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
  'tasks.finish',
  async (ctx, ms) => {
    const { broker: db, results: backend } = clients();
    const doc = await backend.get(`celery-task-meta-${ctx.id}`);
    const stored = doc === null ? '-' : (JSON.parse(doc).status ?? '?');
    await new Promise((resolve) => setTimeout(resolve, ms));
    await db
      .multi()
      .hincrby('mixed:runs', ctx.id, 1)
      .rpush('mixed:log', `${ctx.id} ts ${process.pid} ${Date.now()} ${stored}`)
      .exec();
    return 'celeriac';
  },
  { bind: true, params: ['ms'] },
);
