// Idle worker CPU: a celeriac worker of this checkout and one of another built checkout (argv[2])
// sit idle on one private redis-server; prints the CPU each used over 30 s (after 4 s of start-up)
// and the Redis commands the two made in that window (what wakes them). Without argv[2] only this
// checkout's worker runs; IDLE_ROUNDS=n repeats the 30 s window n times (CPU per round).
//   node bench/runtime/idle-cpu.mjs [<other checkout, built>]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const port = await new Promise((r) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const dir = mkdtempSync('/tmp/idle-redis-');
const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
});
await new Promise((r) => setTimeout(r, 300));
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};
const env = {
  ...process.env,
  BENCH_BROKER_URL: `redis://127.0.0.1:${port}/0`,
  BENCH_RESULT_BACKEND: `redis://127.0.0.1:${port}/1`,
};
const start = (root, name) =>
  spawn(
    process.execPath,
    [
      `${root}/apps/cli/bin/celeriac.js`,
      'worker',
      '-A',
      `${root}/bench/runtime/celeriac-tasks.mjs`,
      '-Q',
      'bench',
      '-c',
      '8',
      '-l',
      'warn',
      '-n',
      `${name}@idle`,
    ],
    { env, stdio: 'ignore' },
  );
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const other = path.resolve(process.argv[2] ?? here);
const { Redis } = await import('ioredis');
const db = new Redis(`redis://127.0.0.1:${port}/0`);
const workers = [['now', start(here, 'now')]];
if (process.argv[2] !== undefined) workers.push(['before', start(other, 'before')]);
await new Promise((r) => setTimeout(r, 4000));
const SEC = 30;
for (let round = 0; round < Number(process.env.IDLE_ROUNDS ?? 1); round++) {
  await db.config('RESETSTAT');
  const t0 = workers.map(([, w]) => ticks(w.pid));
  await new Promise((r) => setTimeout(r, SEC * 1000));
  const t1 = workers.map(([, w]) => ticks(w.pid));
  const stats = String(await db.info('commandstats'))
    .split('\n')
    .filter((l) => l.startsWith('cmdstat_') && !/cmdstat_(config|info)[:|]/.test(l))
    .map((l) => `${l.slice(8, l.indexOf(':'))} ${/calls=(\d+)/.exec(l)?.[1]}`)
    .join(', ');
  const cpu = workers.map(([name], i) => `${name} ${(t1[i] - t0[i]) * 10}`).join(', ');
  console.log(
    `idle ${SEC} s, CPU ms (clock ticks ×10): ${cpu}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; Redis calls: ${stats}`,
  );
}
for (const [, w] of workers) w.kill();
db.disconnect();
redis.kill();
