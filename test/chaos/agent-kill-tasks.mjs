// Tasks of test/chaos/agent-replica-kills.test.ts. `tasks.add` records its completion per task id
// (`chaos:runs`) and in `chaos:completions` one line "<id> <pid> <ms> <stored>" where <stored> is
// the state of the task's result document in the backend when the run began (run-records.mjs), so
// the test can tell why a task ran twice.
import { Celeriac } from 'celeriac';
import { runRecordClients, storedState } from './run-records.mjs';

export const app = new Celeriac('chaos-agent');
const clients = runRecordClients(app);

app.task(
  'tasks.add',
  async (ctx, a, b) => {
    const { broker: db, results: backend } = clients();
    const stored = await storedState(backend, ctx.id);
    await db
      .multi()
      .hincrby('chaos:runs', ctx.id, 1)
      .rpush('chaos:completions', `${ctx.id} ${process.pid} ${Date.now()} ${stored}`)
      .exec();
    return a + b;
  },
  { bind: true, params: ['a', 'b'] },
);
