// Center start time with and without the file store's checkpoint (log compaction).
//   node bench/center/startup.mjs [--nodes 1000] [--revisions 3000]
// Writes a revision log directly (the store's own record format, without an fsync per record):
// `--nodes` node layers with 50 distinct programs, then `--revisions` writes that alternate
// between defaults and a group all nodes are in. Then starts the center on it three times: with
// no checkpoint (every revision replayed), after a close wrote one (restored, nothing replayed),
// and once more without it, and reports each start's time.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '@celeriac/logger';
import { startCenter } from '../../config-center/dist/index.js';
import { encodeRecord } from '../../config-center/dist/store/revision-log.js';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '1000' }, revisions: { type: 'string', default: '3000' } },
});
const NODES = Number(values.nodes);
const REVISIONS = Number(values.revisions);
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-bench-startup-'));
const author = { token_id: 'tok_bench', name: 'bench', role: 'admin' };
const records = [];
const add = (layer, document) =>
  records.push(
    encodeRecord({
      revision: records.length + 1,
      layer,
      kind: 'put',
      author,
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, records.length)).toISOString(),
      message: 'bench',
      diff: [],
      document,
    }),
  );
const program = { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] };
add('defaults', { celery: { broker_url: 'redis://127.0.0.1:6379/0' }, programs: { w: program } });
add('groups/fleet', { celery: { result_expires: 0 } });
for (let i = 0; i < NODES; i++) {
  add(`nodes/node-${i}`, {
    groups: ['fleet'],
    labels: { zone: `z${i % 5}` },
    programs: { w: { concurrency: 1 + (i % 50) } },
  });
}
for (let k = 0; k < REVISIONS; k++) {
  if (k % 2 === 0)
    add('defaults', {
      celery: { broker_url: 'redis://127.0.0.1:6379/0', result_expires: k },
      programs: { w: program },
    });
  else add('groups/fleet', { celery: { task_default_queue: `q${k}` } });
}
writeFileSync(path.join(dir, 'revisions.log'), records.join(''));
const logger = createLogger({ level: 'warn', pretty: false });

async function timedStart(label) {
  const started = performance.now();
  const center = await startCenter({
    dataDir: dir,
    listen: '127.0.0.1:0',
    logger,
    adminToken: 'bench-admin-token-0123456789abcdef',
  });
  const ms = performance.now() - started;
  const head = (await (await fetch(`${center.url}/healthz`)).json()).revision;
  await center.close();
  console.log(`${label}: started in ${ms.toFixed(0)} ms (head ${head})`);
  return ms;
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`command: node bench/center/startup.mjs --nodes ${NODES} --revisions ${REVISIONS}`);
console.log(`log: ${records.length} revisions, load average ${load()}`);
await timedStart('no checkpoint (replays every revision)');
await timedStart('checkpoint written at the last close (restored, 0 replayed)');
unlinkSync(path.join(dir, 'checkpoint.json'));
await timedStart('no checkpoint again');
console.log(`load average at end ${load()}`);
rmSync(dir, { recursive: true, force: true });
