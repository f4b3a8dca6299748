// Tasks of test/interop/amqp-control-events.test.ts, loaded by `celeriac worker -A` on a RabbitMQ
// broker. Like control-tasks.ts, but the bookkeeping lives in the result backend's Redis (the
// broker is not Redis here).
//
//   CELERIAC_INTEROP_CONFIG  JSON object of Celery settings (broker_url, result_backend, ...)
import { Celeriac, type TaskContext } from 'celeriac';
import { Redis } from 'ioredis';

const settings = JSON.parse(process.env.CELERIAC_INTEROP_CONFIG ?? '{}') as Record<string, unknown>;

export const app = new Celeriac('ctlapp', { accept_content: ['json'], ...settings });

let recordClient: Redis | undefined;

/** `ctl.runs` (runs per task id) and `ctl.aborted` in the result backend's Redis. */
function records(): Redis {
  recordClient ??= new Redis(String(app.conf.settings.result_backend));
  return recordClient;
}

app.task('ctlapp.add', (a: number, b: number) => a + b, { params: ['a', 'b'] });
/** Counts its runs: a revoked task must never show up here. */
app.task(
  'ctlapp.record',
  async (ctx: TaskContext) => {
    await records().hincrby('ctl.runs', ctx.id, 1);
    return 'ran';
  },
  { bind: true },
);
/** Runs until its signal aborts (revoke with terminate) or `seconds` pass. */
app.task(
  'ctlapp.abortable',
  (ctx: TaskContext, seconds: number) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve('finished'), seconds * 1000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        void records().hset('ctl.aborted', ctx.id, String((ctx.signal.reason as Error).name));
        reject(ctx.signal.reason);
      });
    }),
  { bind: true, params: ['seconds'] },
);
/** Keeps `[start, end]` (ms) of each run in `ctl.spans`: with `fleet_concurrency: 1` they never overlap. */
app.task('ctlapp.exclusive', async () => {
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 400));
  await records().rpush('ctl.spans', JSON.stringify([start, Date.now()]));
});
