// Runtime benchmark: celeriac against Debian's Celery (solo, prefork 2) and BullMQ (c=1, c=50) on
// ONE redis-server that this script starts on a free port. Rounds alternate the systems (the order
// rotates every round) and the tables show medians over the rounds.
//
//   node bench/runtime/run.mjs [--rounds 3] [--samples 200] [--celery-n 4000] [--bullmq-n 10000]
//                              [--celeriac-n 40000] [--celeriac-c 100] [--celeriac-amqp-n 10000]
//                              [--systems a,b,...] [--json out.json]
//                              [--baseline <checkout of another commit, built>] [--drain-only 1]
//
// `celeriac-countdown10` is celeriac with 10 % of the drained tasks carrying a 1 s countdown
// (published at the release, so the worker holds them, or defers them, during the drain): its drain
// lasts 1 s at least, so compare its worker CPU per task and RSS with celeriac's, not its rate.
// `celeriac-events` runs the worker with `-E` (task events on), to set against plain celeriac.
// `celeriac-fleet-limited` gives the drained task a fleet-wide rate limit it never reaches
// (`fleet_rate_limit` 10,000,000/s, docs/fleet-limits.md): the shared limiter's overhead, to set
// against plain celeriac (the bound: within 10 % of its drain).
//
// The RabbitMQ rows (`celeriac-amqp`, `celery-solo-amqp`, `celery-prefork2-amqp`) run the same
// worker and task on a RabbitMQ vhost that this script creates on the machine's RabbitMQ
// (127.0.0.1:5672) and deletes at the end, results on the same redis-server (db 1). Their backlog
// cannot be held away from the worker as a Redis list is renamed (lib/backlog.mjs): it waits in
// the queue, the worker drains it from its start, and the clock starts at its ready signal, the
// tasks finished before it left out; their idle RSS is not measured (the worker is never idle).
// `--celeriac-amqp-n` sets celeriac's drained count there (RabbitMQ, not the worker, sets the pace).
//
// With --baseline, the system `celeriac-baseline` (added to the list) runs that checkout's worker
// and client in the same rounds, so a change is measured against its parent on the same machine
// at the same time; `celeriac-baseline-events` is that checkout's worker with -E.
// `--drain-only 1` skips the enqueue-rate loops of the celeriac systems (the drained tasks are
// enqueued with one batch call): rounds are shorter, so more of them fit, interleaved, into a
// quiet spell of a shared machine. The enqueue columns are then empty.
// Per system and round: enqueue rates with no worker running (loop awaiting each call; loop with
// 1,000 calls in flight; batch API), then the drain: the pre-enqueued tasks are held back
// (RENAME of the list, or a paused BullMQ queue), the worker is spawned (spawn -> ready), idle RSS
// is read after 1 s, the tasks are released and the clock runs until every result is stored;
// worker CPU (/proc utime+stime, pool children included) and Redis CPU (INFO cpu) are divided by
// the task count. Then lone-task round trips (send -> result) on the idle queue.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { amqpBacklog } from './lib/backlog.mjs';
import { cpuSec, processTree, rssMb } from './lib/processes.mjs';
import { createBenchVhost } from './lib/rabbitmq-vhost.mjs';
import { redisCpuSec, startRedis } from './lib/redis-server.mjs';
import { median, quantile } from './lib/stats.mjs';
import { bullmqSystem } from './systems/bullmq.mjs';
import { celeriacBuilt, celeriacSystem } from './systems/celeriac.mjs';
import { celerySystem } from './systems/celery.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const options = {
    rounds: 3,
    samples: 200,
    'celery-n': 4000,
    'bullmq-n': 10_000,
    'celeriac-n': 40_000,
    'celeriac-c': 100,
    'celeriac-amqp-n': 10_000,
    systems:
      'celeriac,celeriac-countdown10,celery-solo,celery-prefork2,bullmq-c1,bullmq-c50,' +
      'celeriac-amqp,celery-solo-amqp,celery-prefork2-amqp',
    json: '',
    baseline: '',
    'drain-only': 0,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    if (!key || !(key in options) || argv[i + 1] === undefined) {
      throw new Error(`unknown or incomplete option ${argv[i]}; options: ${Object.keys(options).join(', ')}`);
    }
    options[key] = typeof options[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return options;
}

/** A worker config file giving tasks.noop a fleet rate limit far above any drain rate. */
function fleetLimitConfig() {
  const file = path.join(os.tmpdir(), `celeriac-bench-fleet-limit-${process.pid}.json`);
  writeFileSync(file, JSON.stringify({ task_annotations: { 'tasks.noop': { fleet_rate_limit: '10000000/s' } } }));
  return file;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One measurement of one system: enqueue, spawn, drain, round trips. */
async function measure(system, commands, samples, quick = false) {
  await commands.broker.flushall();
  await system.purge?.(commands);
  const enqueue = await system.enqueue(commands, { quick });
  await system.hold(commands);
  const { program, ready } = system.spawnWorker();
  try {
    const readyAt = await ready();
    const spawnReadyMs = readyAt - program.spawnedAt;
    // A worker that drains from its start (RabbitMQ rows) is never idle: no wait, no idle RSS.
    if (!system.startsDraining) await sleep(1000);
    const pids = processTree(program.pid);
    const treeCpu = () => cpuSec(pids);
    const treeRss = () => rssMb(pids);
    const rssIdleMb = system.startsDraining ? Number.NaN : treeRss();
    let rssLoadMb = system.startsDraining ? treeRss() : rssIdleMb;
    const cpu0 = treeCpu();
    const redis0 = await redisCpuSec(commands.broker);
    // Tasks finished before the clock starts (only when the worker drains from its start).
    const done0 = system.startsDraining ? await system.doneCount(commands) : 0;
    const t0 = system.startsDraining ? readyAt : performance.now();
    await system.release(commands);
    const deadline = t0 + Math.max(60_000, system.n * 2);
    let lastRss = t0;
    let done = 0;
    while (done < system.n) {
      if (performance.now() > deadline) throw new Error(`${system.name}: only ${done}/${system.n} done in time`);
      if (!program.running)
        throw new Error(`${system.name} worker exited during the drain:\n${program.text.slice(-3000)}`);
      await sleep(5);
      done = await system.doneCount(commands);
      if (performance.now() - lastRss > 50) {
        rssLoadMb = Math.max(rssLoadMb, treeRss());
        lastRss = performance.now();
      }
    }
    const drainMs = performance.now() - t0;
    rssLoadMb = Math.max(rssLoadMb, treeRss());
    const workerCpu = treeCpu() - cpu0;
    const redisCpu = (await redisCpuSec(commands.broker)) - redis0;
    const roundTrips = await system.roundTrips(samples);
    const counted = system.n - done0;
    return {
      n: system.n,
      drainPerSec: counted / (drainMs / 1000),
      workerCpuUsPerTask: (workerCpu * 1e6) / counted,
      redisCpuUsPerTask: (redisCpu * 1e6) / counted,
      enqueueLoopPerSec: enqueue.loop,
      enqueuePipelinedPerSec: enqueue.pipelined ?? Number.NaN,
      enqueueBatchPerSec: enqueue.batch ?? Number.NaN,
      rtP50Ms: quantile(roundTrips, 0.5),
      rtP99Ms: quantile(roundTrips, 0.99),
      rtSamples: roundTrips.length,
      rssIdleMb,
      rssLoadMb,
      spawnReadyMs,
    };
  } finally {
    await program.stop();
  }
}

const COLUMNS = [
  ['drainPerSec', 'drain/s', 0],
  ['workerCpuUsPerTask', 'worker µs/task', 1],
  ['redisCpuUsPerTask', 'redis µs/task', 1],
  ['enqueueLoopPerSec', 'enqueue loop/s', 0],
  ['enqueuePipelinedPerSec', 'enqueue 1k in flight/s', 0],
  ['enqueueBatchPerSec', 'batch/s', 0],
  ['rtP50Ms', 'RT p50 ms', 2],
  ['rtP99Ms', 'RT p99 ms', 2],
  ['rssIdleMb', 'RSS idle MB', 0],
  ['rssLoadMb', 'RSS load MB', 0],
  ['spawnReadyMs', 'spawn→ready ms', 0],
];

const fmt = (value, digits) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–';

function table(rows, header) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const wanted = options.systems.split(',');
  const redis = await startRedis();
  const commands = { broker: new Redis(redis.url(0)), backend: new Redis(redis.url(1)) };
  // The RabbitMQ rows' vhost, made for this run only once the system list is known good (deleted
  // in the finally below).
  let vhost = null;
  const onAmqp = () => ({ brokerUrl: vhost.url(), backlog: amqpBacklog(vhost) });
  const factories = {
    'celery-solo': () => celerySystem({ name: 'celery-solo', redis, pool: 'solo', n: options['celery-n'] }),
    'celery-prefork2': () =>
      celerySystem({ name: 'celery-prefork2', redis, pool: 'prefork', concurrency: 2, n: options['celery-n'] }),
    'bullmq-c1': () => bullmqSystem({ name: 'bullmq-c1', redis, concurrency: 1, n: options['bullmq-n'] }),
    'bullmq-c50': () => bullmqSystem({ name: 'bullmq-c50', redis, concurrency: 50, n: options['bullmq-n'] }),
    celeriac: () =>
      celeriacSystem({
        name: `celeriac-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
      }),
    'celeriac-countdown10': () =>
      celeriacSystem({
        name: `celeriac-countdown10-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
        countdownShare: 0.1,
        countdownSec: 1,
      }),
    // Task events on (`-E`): the bound is a drain at >= 85 % of the plain row's.
    'celeriac-events': () =>
      celeriacSystem({
        name: `celeriac-events-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
        workerArgs: ['-E'],
      }),
    // Issue 12: a fleet rate limit on the drained task that is never reached (tokens from Redis in batches).
    'celeriac-fleet-limited': () =>
      celeriacSystem({
        name: `celeriac-fleet-limited-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
        workerArgs: ['--config', fleetLimitConfig()],
      }),
    // Issue 13: the same worker and task on RabbitMQ, against Celery solo and prefork on the same vhost.
    'celeriac-amqp': () =>
      celeriacSystem({
        name: `celeriac-amqp-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-amqp-n'],
        ...onAmqp(),
      }),
    'celery-solo-amqp': () =>
      celerySystem({ name: 'celery-solo-amqp', redis, pool: 'solo', n: options['celery-n'], ...onAmqp() }),
    'celery-prefork2-amqp': () =>
      celerySystem({
        name: 'celery-prefork2-amqp',
        redis,
        pool: 'prefork',
        concurrency: 2,
        n: options['celery-n'],
        ...onAmqp(),
      }),
    'celeriac-baseline': () =>
      celeriacSystem({
        name: `celeriac-baseline-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
        root: path.resolve(options.baseline),
      }),
    // The baseline checkout with -E: before against after of the events cost, in the same rounds.
    'celeriac-baseline-events': () =>
      celeriacSystem({
        name: `celeriac-baseline-events-c${options['celeriac-c']}`,
        redis,
        concurrency: options['celeriac-c'],
        n: options['celeriac-n'],
        root: path.resolve(options.baseline),
        workerArgs: ['-E'],
      }),
  };
  if (options.baseline) {
    if (!celeriacBuilt(path.resolve(options.baseline))) throw new Error(`${options.baseline} is not a built checkout`);
    if (!wanted.includes('celeriac-baseline')) wanted.splice(1, 0, 'celeriac-baseline');
  }
  const unknown = wanted.find((key) => !factories[key]);
  if (unknown) throw new Error(`unknown system ${unknown}; known: ${Object.keys(factories).join(', ')}`);
  if (wanted.some((key) => key.endsWith('-amqp'))) vhost = await createBenchVhost();
  const systems = [];
  for (const key of wanted) {
    if (key.startsWith('celeriac') && !key.startsWith('celeriac-baseline') && !celeriacBuilt()) {
      console.error('celeriac is not built (run `npm run build`); measuring the anchors only');
      continue;
    }
    systems.push(factories[key]());
  }
  const results = Object.fromEntries(systems.map((s) => [s.name, []]));
  const started = Date.now();
  const loadAtStart = os.loadavg()[0];
  try {
    for (let round = 0; round < options.rounds; round++) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]);
      for (const system of order) {
        const r = await measure(system, commands, options.samples, options['drain-only'] === 1);
        results[system.name].push(r);
        console.error(
          `round ${round + 1} ${system.name}: drain ${fmt(r.drainPerSec, 0)}/s, ${fmt(r.workerCpuUsPerTask, 1)} µs/task, ` +
            `enqueue ${fmt(r.enqueueLoopPerSec, 0)}/s, RT p50 ${fmt(r.rtP50Ms, 2)} ms, ready ${fmt(r.spawnReadyMs, 0)} ms`,
        );
      }
    }
  } finally {
    for (const system of systems) await system.close();
    commands.broker.disconnect();
    commands.backend.disconnect();
    await redis.stop();
    await vhost?.delete();
  }

  const medians = Object.fromEntries(
    Object.entries(results).map(([name, runs]) => [
      name,
      Object.fromEntries(COLUMNS.map(([key]) => [key, median(runs.map((r) => r[key]))]).concat([['n', runs[0]?.n]])),
    ]),
  );
  const names = Object.keys(medians);
  console.log(
    `\nMedians of ${options.rounds} interleaved rounds; ${os.cpus().length} cores (${os.cpus()[0]?.model}), ` +
      `node ${process.version}, ${Math.round((Date.now() - started) / 1000)} s, ` +
      `load average ${loadAtStart.toFixed(1)} at start and ${os.loadavg()[0].toFixed(1)} at the end\n`,
  );
  console.log(
    table(
      names.map((name) => [name, fmt(medians[name].n, 0), ...COLUMNS.map(([key, , d]) => fmt(medians[name][key], d))]),
      ['system', 'tasks', ...COLUMNS.map(([, label]) => label)],
    ),
  );
  const base = names.find(
    (name) =>
      name.startsWith('celeriac') &&
      !name.startsWith('celeriac-baseline') &&
      !name.startsWith('celeriac-countdown') &&
      !name.startsWith('celeriac-events') &&
      !name.startsWith('celeriac-fleet') &&
      !name.startsWith('celeriac-amqp'),
  );
  if (base) {
    console.log(`\nRatios: each system's figure divided by ${base}'s (drain 0.03 = 3 % of celeriac's rate)\n`);
    console.log(
      table(
        names.map((name) => [name, ...COLUMNS.map(([key]) => fmt(medians[name][key] / medians[base][key], 2))]),
        ['system', ...COLUMNS.map(([, label]) => label)],
      ),
    );
  }
  const amqpBase = names.find((name) => name.startsWith('celeriac-amqp'));
  const amqpNames = names.filter((name) => name.endsWith('-amqp') || name === amqpBase);
  if (amqpBase && amqpNames.length > 1) {
    console.log(`\nRatios on RabbitMQ: each AMQP row's figure divided by ${amqpBase}'s\n`);
    console.log(
      table(
        amqpNames.map((name) => [name, ...COLUMNS.map(([key]) => fmt(medians[name][key] / medians[amqpBase][key], 2))]),
        ['system', ...COLUMNS.map(([, label]) => label)],
      ),
    );
  }
  const out =
    options.json || path.join(HERE, '..', 'results', `runtime-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ options, loadAtStart, loadAtEnd: os.loadavg()[0], results, medians }, null, 2));
  console.log(`\nraw figures: ${path.relative(process.cwd(), out)}`);
}

await main();
