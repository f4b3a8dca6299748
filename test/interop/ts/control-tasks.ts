// Tasks of the control-plane interop tests (test/interop/control-*.test.ts and
// amqp-control-events.test.ts), loaded by `celeriac worker -A`. Their Python twins are libs/control-plane/test/py/ctlapp.py's names where
// both sides need them (ctlapp.add, ctlapp.sleep).
//
//   CELERIAC_INTEROP_CONFIG  JSON object of Celery settings (broker_url, result_backend, ...)
import { Celeriac, type TaskContext } from 'celeriac';
import { Redis } from 'ioredis';

const settings = JSON.parse(process.env.CELERIAC_INTEROP_CONFIG ?? '{}') as Record<string, unknown>;

export const app = new Celeriac('ctlapp', { accept_content: ['json'], ...settings });

let recordClient: Redis | undefined;

/**
 * Bookkeeping (`ctl.runs`: runs per task id, `ctl.stamps`: run times in ms, ...) in the broker's
 * Redis, or in the result backend's when the broker is RabbitMQ.
 */
function records(): Redis {
  const broker = String(app.conf.settings.broker_url);
  recordClient ??= new Redis(broker.startsWith('redis') ? broker : String(app.conf.settings.result_backend));
  return recordClient;
}

app.task('ctlapp.add', (a: number, b: number) => a + b, { params: ['a', 'b'] });
app.task(
  'ctlapp.sleep',
  async (seconds: number) => {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return seconds;
  },
  { params: ['seconds'] },
);
/** Counts its runs: a revoked task must never show up here. */
app.task(
  'ctlapp.record',
  async (ctx: TaskContext) => {
    await records().hincrby('ctl.runs', ctx.id, 1);
    return 'ran';
  },
  { bind: true },
);
/** Pushes its start time: the rate limit tests measure these. */
app.task('ctlapp.stamp', async () => {
  await records().rpush('ctl.stamps', String(Date.now()));
});
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
app.task('ctlapp.fail', () => {
  const error = new Error('bad value');
  error.name = 'ValueError';
  throw error;
});
/** Keeps `[start, end]` (ms) of each run in `ctl.spans`: with `fleet_concurrency: 1` they never overlap. */
app.task('ctlapp.exclusive', async () => {
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 400));
  await records().rpush('ctl.spans', JSON.stringify([start, Date.now()]));
});
