// The interop tasks (test/interop/ts/tasks.ts) plus a task that kills its worker, for the chaos
// tests. Loaded by `celeriac worker -A`; configured like the interop module (CELERIAC_INTEROP_CONFIG).
import { Redis } from 'ioredis';
import { app } from '../interop/ts/tasks.js';

export { app };

let client: Redis | undefined;

/** Counts the run in `chaos.crash_runs`, then exits the process at once (a poison message). */
app.task(
  'chaos.crash',
  async (ctx: { id: string }) => {
    client ??= new Redis(String(app.conf.settings.broker_url));
    await client.hincrby('chaos.crash_runs', ctx.id, 1);
    process.exit(1);
  },
  { bind: true },
);
