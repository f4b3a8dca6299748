// The tasks of the fleet end-to-end tests. Each task records its completion in Redis (runs per task
// id, the worker's hostname, the time), so a test can prove every task completed exactly once and
// where. The record is written when the task finishes: a worker killed mid-task never counts.
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

/**
 * A celeriac app named `name` with the fleet tasks, recording on the Redis its setting
 * `recordsSetting` names (`broker_url` on a Redis broker, `result_backend` on RabbitMQ).
 */
export function fleetTaskApp(name, recordsSetting) {
  const app = new Celeriac(name);
  let redis;
  const db = () => {
    redis ??= new Redis(String(app.conf.settings[recordsSetting]), { maxRetriesPerRequest: null });
    return redis;
  };

  const close = app.close.bind(app);
  app.close = async () => {
    await redis?.quit().catch(() => undefined);
    return close();
  };

  async function done(ctx, value) {
    await db()
      .multi()
      .hincrby('fleet:runs', ctx.id, 1)
      .hset('fleet:host', ctx.id, ctx.hostname)
      .hset('fleet:at', ctx.id, String(Date.now()))
      .exec();
    return value;
  }

  app.task('tasks.add', (ctx, a, b) => done(ctx, a + b), { bind: true, params: ['a', 'b'] });
  app.task('tasks.mul', (ctx, a, b) => done(ctx, a * b), { bind: true, params: ['a', 'b'] });
  app.task(
    'tasks.sleepy',
    async (ctx, seconds) => {
      await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
      return done(ctx, seconds);
    },
    { bind: true, params: ['seconds'] },
  );
  return app;
}
