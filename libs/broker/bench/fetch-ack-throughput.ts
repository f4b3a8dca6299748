/**
 * Measures the broker's drain speed the way the worker drives it: 40,000 pre-pushed Celery
 * messages, fetchBatch(queues, 200) with two fetches in flight and one ack(tags) per batch.
 * Also measures a lone message through waitForOne and a result round trip through the backend.
 *
 *   npx tsx libs/broker/bench/fetch-ack-throughput.ts [messages]
 *
 * BENCH_OWNER=0 runs the drain without an owner id (no `celeriac.held.<owner>` records).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisResultBackend } from '../../result-backend/src/index.js';
import { RedisBroker } from '../src/index.js';

const TOTAL = Number(process.argv[2] ?? 40_000);
const BATCH = 200;
const IN_FLIGHT = 2;

const fixture = JSON.parse(readFileSync(`${CELERY_FIXTURES_DIR}/visibility_timeout_restore.json`, 'utf8')) as {
  original_publish: { raw: string }[];
};
const template = fixture.original_publish[0]!.raw;
const TEMPLATE_TAG = 'a414541f-a518-426e-a475-3e2a69571237';

function message(): string {
  return template.replace(TEMPLATE_TAG, randomUUID());
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const logger = createLogger({ level: 'warn', pretty: false });
  const broker = new RedisBroker({
    url: server.url(0),
    logger,
    ownerId: process.env.BENCH_OWNER === '0' ? undefined : 'bench:1',
  });
  await broker.start();
  try {
    for (let i = 0; i < TOTAL; i += 1_000) {
      const items = Array.from({ length: Math.min(1_000, TOTAL - i) }, () => ({ queue: 'celery', raw: message() }));
      await broker.publishMany(items);
    }
    const info = new Redis(server.url(0));
    const redisCpu = async (): Promise<number> => {
      const text = await info.info('cpu');
      const value = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(text)![1]);
      return value('used_cpu_user') + value('used_cpu_sys');
    };
    const redisCpuStart = await redisCpu();
    const started = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    let drained = 0;
    const loop = async (): Promise<void> => {
      for (;;) {
        const batch = await broker.fetchBatch(['celery'], BATCH);
        if (batch.length === 0) return;
        drained += batch.length;
        await broker.ack(batch.map((d) => d.deliveryTag));
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuStart);
    const redisSeconds = (await redisCpu()) - redisCpuStart;
    info.disconnect();
    console.log(
      `fetch+ack: ${drained} messages in ${seconds.toFixed(3)} s = ${Math.round(drained / seconds)} tasks/s ` +
        `(node CPU ${((cpu.user + cpu.system) / drained).toFixed(1)} µs/task, ` +
        `Redis CPU ${((redisSeconds * 1e6) / drained).toFixed(1)} µs/task)`,
    );

    // Lone message: publish while a waitForOne is blocked, time until it resolves.
    const producer = new RedisBroker({ url: server.url(0), logger });
    await producer.start();
    const lone: number[] = [];
    for (let i = 0; i < 200; i++) {
      const waiting = broker.waitForOne(['celery'], 5);
      await new Promise((r) => setTimeout(r, 2));
      const t0 = process.hrtime.bigint();
      await producer.publish('celery', message());
      const d = await waiting;
      lone.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await broker.ack([d!.deliveryTag]);
    }
    lone.sort((a, b) => a - b);
    console.log(
      `publish → waitForOne: p50 ${percentile(lone, 0.5).toFixed(3)} ms, p99 ${percentile(lone, 0.99).toFixed(3)} ms`,
    );
    await producer.close();

    // Result round trip: waitFor subscribed, another backend stores the result.
    const waiterSide = new RedisResultBackend({ url: server.url(1), logger });
    const workerSide = new RedisResultBackend({ url: server.url(1), logger });
    await Promise.all([waiterSide.start(), workerSide.start()]);
    const rtt: number[] = [];
    for (let i = 0; i < 300; i++) {
      const id = randomUUID();
      const t0 = process.hrtime.bigint();
      const waiting = waiterSide.waitFor(id, 5_000);
      await workerSide.store({
        status: 'SUCCESS',
        result: i,
        traceback: null,
        children: [],
        date_done: null,
        task_id: id,
      });
      await waiting;
      rtt.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    rtt.sort((a, b) => a - b);
    console.log(
      `waitFor (subscribe + GET) + store → resolved: p50 ${percentile(rtt, 0.5).toFixed(3)} ms, p99 ${percentile(rtt, 0.99).toFixed(3)} ms`,
    );
    await Promise.all([waiterSide.close(), workerSide.close()]);
  } finally {
    await broker.close();
    await server.stop();
  }
}

await main();
