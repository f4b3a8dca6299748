// Issue 8 under the agent: a real `celeriac center` and `celeriac agent` run 3 replicas of a
// celeriac-worker program (acks_late) while a producer sends CHAOS_AGENT_TASKS (10,000) tasks at
// ≥ 1,000/s and the test kill -9s a replica CHAOS_AGENT_KILLS (10) times. The agent restores what
// each dead replica held (restoreOwner) and restarts it. Every task must complete: 0 lost, and
// none may run to completion twice. A run completes when its result is stored; a redelivered
// message whose task has a final result stored is acked without running (`worker.duplicate_skipped`,
// libs/worker-runtime/src/duplicate-check.ts). Two independent counts: every run records, when it
// begins, the state stored for its task (agent-kill-tasks.mjs: `chaos:completions`; a run that
// begins over a final state is a rerun of a completed task), and the test counts the SUCCESS
// documents published per task (the backend PUBLISHes every store): exactly one each.
// What remains is acks_late's at-least-once for the task's own side effect: a replica killed after
// the task's effect and before its result was stored never completed that run, and the message
// runs again. Each task records its effect per id (`chaos:runs`); the test prints how many such
// reruns there were and checks that each is explained by the kill (first run on the killed
// replica, shortly before the kill, nothing stored at the rerun). Needs the build.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CenterApi, eventually, type NodeSummary } from '../e2e/support/center-api.js';
import { startAgentProcess, startCenterProcess } from '../e2e/support/fleet-processes.js';
import type { Spawned } from '../e2e/support/processes.js';
import { RedisServer } from '../support/redis-server.js';

const TASKS = Number(process.env.CHAOS_AGENT_TASKS ?? 10_000);
const KILLS = Number(process.env.CHAOS_AGENT_KILLS ?? 10);
const RATE_PER_SEC = Number(process.env.CHAOS_AGENT_RATE ?? 1_000);
const REPLICAS = 3;
const TASK_MODULE = fileURLToPath(new URL('./agent-kill-tasks.mjs', import.meta.url));
const ADMIN = 'chaos-agent-admin-token-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-chaos-agent-'));
const logFile = (name: string) => path.join(dir, `${name}.log`);

let redis: RedisServer;
let db: Redis;
let center: Spawned | undefined;
let agent: Spawned | undefined;
let admin: CenterApi;
let producer: Celeriac;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The node once its revision is applied and all replicas run (pids reported and alive). */
async function settled(timeoutMs = 60_000): Promise<NodeSummary> {
  return eventually(
    async () => {
      const n = await admin.node('n');
      const w = n.programs.w;
      const ok =
        n.applied_revision === n.desired_revision &&
        w?.state === 'running' &&
        w.pids.length === REPLICAS &&
        w.pids.every(alive);
      return ok ? n : undefined;
    },
    timeoutMs,
    'node n settled with every replica running',
  );
}

function tail(name: string, lines = 40): string {
  try {
    return readFileSync(logFile(name), 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  const started = await startCenterProcess(dir, ADMIN, logFile('center'));
  center = started.proc;
  admin = started.admin;
  const centerUrl = started.url;
  const agentToken = await admin.createToken('agent', 'n');
  const celery = {
    broker_url: redis.url(0),
    result_backend: redis.url(1),
    task_acks_late: true,
    // Only a backstop: the agent restores a dead replica's messages at once (restoreOwner).
    broker_transport_options: { visibility_timeout: 20 },
  };
  const program = {
    kind: 'celeriac-worker',
    app: TASK_MODULE,
    queues: ['celery'],
    replicas: REPLICAS,
    concurrency: 8,
    stop_timeout: '10s',
    ready_timeout: '30s',
  };
  for (const [layer, doc] of Object.entries({ defaults: { celery }, 'nodes/n': { programs: { w: program } } })) {
    const res = await admin.putLayer(layer, doc, 'chaos agent setup');
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
  agent = await startAgentProcess({
    centerUrl,
    node: 'n',
    auth: ['--token', agentToken],
    stateDir: path.join(dir, 'agent'),
    heartbeat: '250ms',
    logFile: logFile('agent'),
  });
  await settled().catch((error) => {
    throw new Error(`${(error as Error).message}\n--- agent log ---\n${tail('agent')}`);
  });
  producer = new Celeriac('chaos-producer', { broker_url: redis.url(0), result_backend: redis.url(1) });
}, 120_000);

afterAll(async () => {
  await producer?.close();
  await agent?.stop('SIGTERM');
  await center?.stop('SIGTERM');
  db?.disconnect();
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_CHAOS) process.stderr.write(`chaos agent logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Sends `TASKS` tasks in chunks of 50 paced at `RATE_PER_SEC`; resolves with their ids and the rate. */
async function produce(): Promise<{ ids: string[]; rate: number }> {
  const ids: string[] = [];
  const chunk = 50;
  const started = Date.now();
  for (let sent = 0; sent < TASKS; sent += chunk) {
    const n = Math.min(chunk, TASKS - sent);
    const args = Array.from({ length: n }, (_, i) => [sent + i, 1]);
    for (const r of await producer.applyTaskMany('tasks.add', args)) ids.push(r.id);
    const due = started + ((sent + n) / RATE_PER_SEC) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  return { ids, rate: TASKS / ((Date.now() - started) / 1000) };
}

/** kill -9 of `KILLS` replicas, one every `everyMs`, each a live replica not killed before. */
async function killReplicas(everyMs: number): Promise<Map<number, number>> {
  const killed: number[] = [];
  const at = new Map<number, number>();
  while (killed.length < KILLS) {
    await sleep(everyMs);
    const node = await eventually(
      async () => {
        const n = await admin.node('n');
        const pids = (n.programs.w?.pids ?? []).filter((p) => alive(p) && !killed.includes(p));
        return pids.length > 0 ? pids : undefined;
      },
      30_000,
      'a live replica to kill',
    );
    const victim = node[killed.length % node.length] as number;
    process.kill(victim, 'SIGKILL');
    at.set(victim, Date.now());
    killed.push(victim);
  }
  return at;
}

/** Why a task completed twice: which replica ran it first, how long before that replica's kill. */
interface Twice {
  pid: number;
  /** ms between the end of the first run and the kill of its replica; null: that replica was not killed. */
  msBeforeKill: number | null;
  /** State of its result document when the second run began ('-': none). */
  storedAtRerun: string;
}

async function whyTwice(twice: Set<string>, killedAt: Map<number, number>): Promise<Twice[]> {
  const byId = new Map<string, string[][]>();
  for (const line of await db.lrange('chaos:completions', 0, -1)) {
    const [id, ...rest] = line.split(' ');
    if (!twice.has(id as string)) continue;
    byId.set(id as string, [...(byId.get(id as string) ?? []), rest]);
  }
  return [...byId.values()].map(([first, second]) => {
    const pid = Number(first?.[0]);
    const kill = killedAt.get(pid);
    return {
      pid,
      msBeforeKill: kill === undefined ? null : kill - Number(first?.[1]),
      storedAtRerun: second?.[2] ?? '?',
    };
  });
}

/** Counts the SUCCESS documents the backend publishes per task id (every store is PUBLISHed on `celery-task-meta-<id>`). */
async function countPublishedSuccesses(): Promise<{ counts: Map<string, number>; close(): Promise<void> }> {
  const sub = new Redis(redis.url(1));
  const counts = new Map<string, number>();
  sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
    if (!message.includes('"SUCCESS"')) return;
    const id = channel.slice('celery-task-meta-'.length);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  });
  await sub.psubscribe('celery-task-meta-*');
  return {
    counts,
    close: async () => {
      await sub.quit();
    },
  };
}

/** `worker.duplicate_skipped` lines in the replicas' logs (under the agent's state dir). */
function duplicatesSkipped(): number {
  let count = 0;
  const entries = readdirSync(path.join(dir, 'agent'), { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.log')) continue;
    const text = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
    count += text.split('"event":"worker.duplicate_skipped"').length - 1;
  }
  return count;
}

async function runsOf(ids: string[]): Promise<(number | null)[]> {
  const out: (number | null)[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const values = await db.hmget('chaos:runs', ...ids.slice(i, i + 1000));
    out.push(...values.map((v) => (v === null ? null : Number(v))));
  }
  return out;
}

describe('chaos: kill -9 of replicas under the agent', () => {
  it(`${TASKS} tasks at ≥ ${RATE_PER_SEC}/s with ${KILLS} kill -9 of replicas: 0 lost, 0 run to completion twice`, async () => {
    const published = await countPublishedSuccesses();
    const started = Date.now();
    const sendMs = (TASKS / RATE_PER_SEC) * 1000;
    const [{ ids, rate }, killed] = await Promise.all([produce(), killReplicas(Math.max(200, sendMs / (KILLS + 1)))]);
    const sentMs = Date.now() - started;
    let runs: (number | null)[] = [];
    const done = await eventually(
      async () => {
        runs = await runsOf(ids);
        return runs.every((r) => r !== null) ? true : undefined;
      },
      Number(process.env.CHAOS_AGENT_DRAIN_MS ?? 60_000),
      `all ${TASKS} tasks completed`,
    ).catch(() => false);
    const drainedMs = Date.now() - started;
    // Late duplicates (a restore of something that already ran) would show up in the next seconds.
    await sleep(3_000);
    runs = await runsOf(ids);
    const lost = runs.filter((r) => r === null).length;
    const twice = runs.filter((r) => r !== null && r > 1).length;
    const twiceIds = new Set(ids.filter((_, i) => (runs[i] ?? 0) > 1));
    const reasons = await whyTwice(twiceIds, killed);
    const storedAtRerun = reasons.filter((r) => r.storedAtRerun !== '-').length;
    const successes = ids.map((id) => published.counts.get(id) ?? 0);
    await published.close();
    const completedTwice = successes.filter((n) => n > 1).length;
    const neverPublished = successes.filter((n) => n === 0).length;
    // A rerun of the side effect is explained by the kill alone: the first run's replica was
    // SIGKILLed after the task's effect and before its result was stored (nothing stored at the
    // rerun), within a second of that run (~150 ms seen on a starved machine). Anything else (a
    // rerun of a task whose first run's worker lived on, killed long after, or that had completed)
    // is a bug.
    const EFFECT_WINDOW_MS = 1_000;
    const unexplained = reasons.filter(
      (r) =>
        r.msBeforeKill === null || r.msBeforeKill < 0 || r.msBeforeKill > EFFECT_WINDOW_MS || r.storedAtRerun !== '-',
    );
    const widestMs = Math.max(0, ...reasons.map((r) => r.msBeforeKill ?? 0));
    const extraRuns = runs.reduce<number>((sum, r) => sum + (r !== null && r > 1 ? r - 1 : 0), 0);
    const node = await settled(30_000).catch(() => admin.node('n'));
    const unacked = await db.hlen('unacked');
    const deadLetters = await db.llen('celeriac.dead-letter');
    console.log(
      `agent replica kills: ${TASKS} tasks sent at ${Math.round(rate)}/s in ${sentMs} ms, ${killed.size} kill -9 of ` +
        `replicas, all done ${done ? `after ${drainedMs} ms` : 'NOT within the deadline'}: lost ${lost}, ` +
        `run to completion twice ${completedTwice} (SUCCESS published twice; ${neverPublished} never), ` +
        `reruns of a completed task ${storedAtRerun}, redelivered copies of completed tasks acked without ` +
        `running ${duplicatesSkipped()}; side effect run twice ${twice} (${extraRuns} extra runs: ` +
        `the first run's replica killed before its result was stored), ${unexplained.length} unexplained, the ` +
        `first run ended at most ${widestMs} ms before its replica's kill; unacked left ${unacked}, dead-lettered ` +
        `${deadLetters}, replica restarts reported ${node.programs.w?.restarts ?? '?'}` +
        reasons
          .slice(0, 10)
          .map(
            (r) =>
              `\n  pid ${r.pid}: first run ended ${r.msBeforeKill ?? '(never killed)'} ms before the kill, result at the rerun ${r.storedAtRerun}`,
          )
          .join(''),
    );
    expect(killed.size).toBe(KILLS);
    expect(rate).toBeGreaterThanOrEqual(RATE_PER_SEC * 0.95);
    expect(lost).toBe(0);
    // Issue 8's "0 run to completion twice": no task completed twice, no run began over a stored
    // final state, and every task completed once.
    expect(completedTwice).toBe(0);
    expect(storedAtRerun).toBe(0);
    expect(neverPublished).toBe(0);
    // The task's own effect is at least once (acks_late): only reruns the kill explains.
    expect(unexplained).toEqual([]);
    expect(deadLetters).toBe(0);
    expect(unacked).toBe(0);
  }, 180_000);
});
