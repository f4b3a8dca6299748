// Tasks of test/chaos/mixed-fleet-eta-kills.test.ts, twin of py/mixed_eta_tasks.py: `tasks.finish`
// sleeps `ms` milliseconds, then records its completion per task id (HINCRBY `mixed:runs` <id>, and
// RPUSH `mixed:log` "<id> ts <pid> <ms since epoch> <stored state at start>"; run-records.mjs).
import { Celeriac } from 'celeriac';
import { runRecordClients, storedState } from './run-records.mjs';

export const app = new Celeriac('mixed-eta');
const clients = runRecordClients(app);

app.task(
  'tasks.finish',
  async (ctx, ms) => {
    const { broker: db, results: backend } = clients();
    const stored = await storedState(backend, ctx.id);
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
