import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { type CenterApi, eventually } from './support/center-api.js';
import { startAgentProcess, startCenterProcess } from './support/fleet-processes.js';
import { filesContaining, logFiles, logSchemaProblems } from './support/log-lines.js';
import type { Spawned } from './support/processes.js';

// Every line that the center, an agent and its celeriac workers write follows one log schema
// (a dotted `event`, snake_case fields), and the broker password never appears in any of them,
// through the usual paths and the error paths: a Redis that needs a password, a task that
// throws, an unknown task, a malformed message, a restart, an invalid layer and a stop.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'log-schema-admin-token-0123456789abcdef';
const PASSWORD = 'pw-never-in-logs-7f3a';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-logs-'));

let redis: RedisServer;
let db: Redis;
let center: Spawned;
let agent: Spawned;
let admin: CenterApi;
let brokerUrl = '';
const WORKER = {
  kind: 'celeriac-worker',
  app: path.join(SUPPORT, 'fleet-tasks.mjs'),
  queues: ['celery'],
  concurrency: 4,
  stop_timeout: '10s',
  ready_timeout: '30s',
};
let backendUrl = '';

function authedUrl(n: number): string {
  return redis.url(n).replace('redis://', `redis://:${PASSWORD}@`);
}

beforeAll(async () => {
  redis = await RedisServer.start();
  const setup = new Redis(redis.url(0));
  await setup.config('SET', 'requirepass', PASSWORD);
  setup.disconnect();
  brokerUrl = authedUrl(0);
  backendUrl = authedUrl(1);
  db = new Redis(brokerUrl);

  const started = await startCenterProcess(dir, ADMIN, path.join(dir, 'center.log'));
  center = started.proc;
  admin = started.admin;
  const agentToken = await admin.createToken('agent', 'n1');
  const tokenFile = path.join(dir, 'agent-token');
  writeFileSync(tokenFile, agentToken, { mode: 0o600 });

  const defaults = {
    celery: { broker_url: brokerUrl, result_backend: backendUrl, task_acks_late: true, accept_content: ['json'] },
  };
  expect((await admin.putLayer('defaults', defaults)).status).toBeLessThan(300);
  const node = { programs: { w: WORKER } };
  expect((await admin.putLayer('nodes/n1', node)).status).toBeLessThan(300);
  agent = await startAgentProcess({
    centerUrl: started.url,
    node: 'n1',
    auth: ['--token-file', tokenFile],
    stateDir: path.join(dir, 'agent-state'),
    heartbeat: '500ms',
    logFile: path.join(dir, 'agent.log'),
  });
  await eventually(
    async () => {
      const n = await admin.node('n1');
      return n.applied_revision === n.desired_revision && n.programs.w?.state === 'running';
    },
    60_000,
    'node n1 running',
  );
}, 120_000);

afterAll(async () => {
  await agent?.stop('SIGTERM');
  await center?.stop('SIGTERM');
  db?.disconnect();
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`log-schema e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('one log schema, no secret, for every program', () => {
  it('holds through tasks, failures, bad input, a restart, a refused layer and a stop', async () => {
    const app = new Celeriac('log-probe', { broker_url: brokerUrl, result_backend: backendUrl });
    try {
      const ok = await app.sendTask('tasks.add', [1, 2]);
      expect(await ok.get({ timeout: 10_000 })).toBe(3);
      const unknown = await app.sendTask('tasks.does_not_exist', []);
      await expect(unknown.get({ timeout: 10_000 })).rejects.toThrow();
      // A message that is not a kombu envelope at all.
      await db.lpush('celery', '{not json');
      // A restart of the worker through a config change.
      const before = (await admin.node('n1')).programs.w?.pids[0];
      const change = await admin.putLayer('nodes/n1', { programs: { w: { ...WORKER, concurrency: 2 } } });
      expect(change.status).toBeLessThan(300);
      await eventually(
        async () => {
          const w = (await admin.node('n1')).programs.w;
          return w?.state === 'running' && w.pids.length === 1 && w.pids[0] !== before;
        },
        30_000,
        'worker restarted',
      );
      // A layer the center must refuse, whose URL carries the password.
      const refused = await admin.putLayer('groups/bad', {
        celery: { broker_url: `notaurl://user:${PASSWORD}@host:99999/` },
      });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).not.toContain(PASSWORD);
      const after = await app.sendTask('tasks.mul', [3, 4]);
      expect(await after.get({ timeout: 10_000 })).toBe(12);
    } finally {
      await app.close();
    }
    await agent.stop('SIGTERM');
    await center.stop('SIGTERM');

    const files = [
      path.join(dir, 'center.log'),
      path.join(dir, 'agent.log'),
      ...logFiles(path.join(dir, 'agent-state')),
    ];
    // center, agent, and the worker replica's log (the restarted process appends to the same file).
    expect(files.length).toBe(3);
    const workerPids = new Set(readFileSync(files[2] as string, 'utf8').match(/"pid":\d+/g));
    expect(workerPids.size).toBe(2);
    expect(filesContaining(files, PASSWORD)).toEqual({});
    const problems = logSchemaProblems(files);
    expect(problems.slice(0, 10), `${problems.length} lines break the log schema`).toEqual([]);
  }, 120_000);
});
