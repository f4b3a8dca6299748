import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { type CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { startAgentProcess, startCenterProcess } from './support/fleet-processes.js';
import { nodeSettled } from './support/node-settled.js';
import type { Spawned } from './support/processes.js';

// The impact preview against what really happens: a real `celeriac center`, two real `celeriac
// agent`s each running celeriac-worker programs on a real redis-server. Each change is previewed
// (POST /v1/preview), then written with the preview's base revision; the programs whose pids
// changed, the agents' own apply messages and the number of processes replaced must be exactly
// what the preview said.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'preview-e2e-admin-token-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-preview-'));
const NODES = ['a', 'b'] as const;

let redis: RedisServer;
let center: Spawned;
let admin: CenterApi;
const agents: Spawned[] = [];

interface ProgramImpact {
  action: string;
  reasons: string[];
  replicas_before: number;
  replicas_after: number;
  processes_out_at_once: number;
}
interface Preview {
  base_revision: number;
  nodes: { node: string; programs: Record<string, ProgramImpact>; processes_out_at_once: number }[];
  unchanged_nodes: number;
}

const worker = (queues: string[], replicas: number) => ({
  kind: 'celeriac-worker',
  app: path.join(SUPPORT, 'fleet-tasks.mjs'),
  queues,
  replicas,
  concurrency: 2,
  stop_timeout: '10s',
  ready_timeout: '40s',
});

/** Waits until the node applied its desired revision and every program serves all its replicas. */
function settled(node: string, replicas: Record<string, number>): Promise<NodeSummary> {
  return nodeSettled(admin, node, replicas, 90_000);
}

async function previewAndWrite(layer: string, patch: unknown): Promise<Preview> {
  const current = await admin.request('GET', `/v1/layers/${layer}`);
  const ifMatch: Record<string, string> = current.status === 200 ? { 'if-match': String(current.etag) } : {};
  const preview = await admin.request('POST', `/v1/preview?layer=${layer}&kind=patch`, patch, ifMatch);
  expect(preview.status, JSON.stringify(preview.body)).toBe(200);
  const body = preview.body as Preview;
  const write = await admin.request('PATCH', `/v1/layers/${layer}`, patch, {
    'if-match': String(body.base_revision),
    'x-change-message': 'previewed change',
  });
  expect(write.status, JSON.stringify(write.body)).toBeLessThan(300);
  return body;
}

/** What the agent's apply message lists for a plan: `name: action (reasons)` of every program it touches. */
function expectedSummary(programs: Record<string, ProgramImpact>): string {
  return Object.entries(programs)
    .filter(([, p]) => p.action !== 'none')
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([name, p]) => `${name}: ${p.action}${p.reasons.length ? ` (${p.reasons.join(', ')})` : ''}`)
    .join('; ');
}

beforeAll(async () => {
  redis = await RedisServer.start();
  const started = await startCenterProcess(dir, ADMIN, path.join(dir, 'center.log'));
  center = started.proc;
  admin = started.admin;
  const celery = { broker_url: redis.url(0), result_backend: redis.url(1), task_default_queue: 'celery' };
  expect(
    (await admin.putLayer('defaults', { celery, programs: { w: worker(['celery'], 2), v: worker(['video'], 1) } }))
      .status,
  ).toBe(201);
  expect((await admin.putLayer('nodes/a', { labels: { zone: 'eu' } })).status).toBe(201);
  expect((await admin.putLayer('nodes/b', { labels: { zone: 'us' } })).status).toBe(201);
  for (const node of NODES) {
    const token = await admin.createToken('agent', node);
    agents.push(
      await startAgentProcess({
        centerUrl: started.url,
        node,
        auth: ['--token', token],
        stateDir: path.join(dir, `agent-${node}`),
        heartbeat: '500ms',
        logFile: path.join(dir, `agent-${node}.log`),
      }),
    );
  }
  for (const node of NODES) await settled(node, { w: 2, v: 1 });
}, 180_000);

afterAll(async () => {
  for (const agent of agents) await agent.stop('SIGTERM');
  await center?.stop('SIGTERM');
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`preview e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the impact preview matches what then restarts', () => {
  it('a defaults change to one program: preview and reality agree on every node', async () => {
    const before = Object.fromEntries(
      await Promise.all(NODES.map(async (node) => [node, await settled(node, { w: 2, v: 1 })] as const)),
    );
    const preview = await previewAndWrite('defaults', { programs: { w: { env: { FLAVOUR: 'spicy' } } } });
    expect(preview.nodes.map((n) => n.node)).toEqual(['a', 'b']);
    for (const planned of preview.nodes) {
      expect(planned.programs.w).toMatchObject({ action: 'restart', reasons: ['env changed (FLAVOUR)'] });
      expect(planned.programs.v?.action).toBe('none');
      expect(planned.processes_out_at_once).toBe(2);
      const after = await eventually(async () => {
        const n = await settled(planned.node, { w: 2, v: 1 });
        return n.applied_revision !== before[planned.node]?.applied_revision ? n : undefined;
      }, 90_000);
      // What the agent did, in its own words, is what the preview said.
      expect(after.message).toBe(`applied revision ${after.applied_revision}: ${expectedSummary(planned.programs)}`);
      const old = before[planned.node] as NodeSummary;
      for (const [name, impact] of Object.entries(planned.programs)) {
        const oldPids = old.programs[name]?.pids ?? [];
        const newPids = after.programs[name]?.pids ?? [];
        const replaced = oldPids.filter((pid) => !newPids.includes(pid)).length;
        expect(replaced, `${planned.node}.${name} processes replaced`).toBe(impact.processes_out_at_once);
        expect(newPids.length).toBe(impact.replicas_after);
      }
    }
  }, 240_000);

  it('a node change restarts only what its preview names; the other node is not listed and not touched', async () => {
    const a0 = await settled('a', { w: 2, v: 1 });
    const b0 = await settled('b', { w: 2, v: 1 });
    const preview = await previewAndWrite('nodes/b', {
      labels: { zone: 'ap' },
      programs: { v: { queues: ['video', 'audio'] }, w: { replicas: 3 } },
    });
    expect(preview.nodes.map((n) => n.node)).toEqual(['b']);
    const [planned] = preview.nodes;
    expect(planned?.programs.v).toMatchObject({ action: 'restart', processes_out_at_once: 1 });
    expect(planned?.programs.w).toMatchObject({ action: 'scale', processes_out_at_once: 0, replicas_after: 3 });
    const b1 = await eventually(async () => {
      const n = await settled('b', { w: 3, v: 1 });
      return n.applied_revision !== b0.applied_revision ? n : undefined;
    }, 90_000);
    expect(b1.message).toBe(`applied revision ${b1.applied_revision}: ${expectedSummary(planned?.programs ?? {})}`);
    expect(b1.programs.v?.pids).not.toEqual(b0.programs.v?.pids);
    // Scaling up keeps the two running replicas.
    expect(b1.programs.w?.pids.filter((pid) => b0.programs.w?.pids.includes(pid))).toHaveLength(2);
    // Node a: same revision, same processes.
    const a1 = await admin.node('a');
    expect(a1.applied_revision).toBe(a0.applied_revision);
    expect(a1.programs.w?.pids).toEqual(a0.programs.w?.pids);
    expect(a1.programs.v?.pids).toEqual(a0.programs.v?.pids);
  }, 240_000);
});
