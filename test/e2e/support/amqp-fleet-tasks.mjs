// Tasks of the AMQP fleet end-to-end test (test/e2e/amqp-fleet.test.ts). The broker is RabbitMQ, so
// each task records its completion on the Redis of the result backend (runs per task id, the
// worker's hostname, the time): the test proves every task completed exactly once, and where.
import { Celeriac } from 'celeriac';
import { Redis } from 'ioredis';

export const app = new Celeriac('amqp-fleet');

let redis;
function db() {
  redis ??= new Redis(String(app.conf.settings.result_backend), { maxRetriesPerRequest: null });
  return redis;
}

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
