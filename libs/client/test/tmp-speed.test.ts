import { Redis } from 'ioredis';
import { afterAll, beforeAll, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => server.stop());

async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const u = Number(/used_cpu_user:([\d.]+)/.exec(info)![1]);
  const s = Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  return (u + s) * 1e6;
}

it('speed', async () => {
  const app = new Celeriac('b', { broker_url: server.url(0), result_backend: server.url(1) });
  const r = new Redis(server.url(0));
  const add = app.task('tasks.add', (a: number) => a);
  await add.delay(0);
  const n = 50_000;
  const measure = async (label: string, fn: () => Promise<unknown>) => {
    await r.del('celery');
    const c0 = process.cpuUsage();
    const r0 = await redisCpu(r);
    const t = process.hrtime.bigint();
    await fn();
    const wall = Number(process.hrtime.bigint() - t) / 1e3;
    const c = process.cpuUsage(c0);
    const rc = (await redisCpu(r)) - r0;
    console.log(
      `${label}: wall ${Math.round((n / wall) * 1e6)}/s, node ${((c.user + c.system) / n).toFixed(2)} us/msg, redis ${(rc / n).toFixed(2)} us/msg`,
    );
  };
  for (let round = 0; round < 4; round++) {
    await measure('delay loop', () => {
      const promises: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) promises.push(add.delay(i));
      return Promise.all(promises);
    });
    await measure('applyMany', () => add.applyMany(Array.from({ length: n }, (_, i) => [i])));
  }
  r.disconnect();
  await app.close();
}, 120_000);
