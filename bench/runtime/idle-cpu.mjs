// Idle worker CPU: a celeriac worker of this checkout and one of another built checkout (argv[2])
// sit idle on one private redis-server; prints the CPU each used over 30 s (after 4 s of start-up).
//   node bench/runtime/idle-cpu.mjs <other checkout, built>
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
const now = start(here, 'now');
const before = start(other, 'before');
await new Promise((r) => setTimeout(r, 4000));
const t0 = [ticks(now.pid), ticks(before.pid)];
const SEC = 30;
await new Promise((r) => setTimeout(r, SEC * 1000));
const t1 = [ticks(now.pid), ticks(before.pid)];
console.log(`idle ${SEC} s, CPU ms (clock ticks ×10): now ${(t1[0] - t0[0]) * 10}, before ${(t1[1] - t0[1]) * 10}`);
now.kill();
before.kill();
redis.kill();
