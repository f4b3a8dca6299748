// Tasks of the agent benchmark: a no-op that counts its completions in Redis, so that the
// benchmark can sample throughput every 100 ms while the agent restarts the workers.
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

export const app = new Celeriac('bench');

let redis;
const close = app.close.bind(app);
app.close = async () => {
  await redis?.quit().catch(() => undefined);
  return close();
};

app.task('bench.noop', async () => {
  redis ??= new Redis(String(app.conf.settings.broker_url));
  await redis.incr('bench:done');
});
