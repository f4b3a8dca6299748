import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, killRecordedChildren, spawnAgent } from '../../apps/agent/test/support/agent-process.js';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, until } from './support/center-harness.js';

// A node is stale after 3 missed heartbeats of the period its agent announced; a report without
// one (an older agent) falls back to 3 x the center's --heartbeat.

const T = ADMIN_TOKEN;
const CENTER_HEARTBEAT_MS = 3000;
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-staleness-'));
let center: TestCenter;
const agents: { agent: AgentProcess; stateDir: string }[] = [];

async function token(role: string, node?: string): Promise<string> {
  const res = await api(center.url, 'POST', '/v1/tokens', { token: T, body: { role, node, name: `${role}-${node}` } });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

async function summary(node: string) {
  return (await api(center.url, 'GET', `/v1/nodes/${node}`, { token: T })).body;
}

async function listed(node: string) {
  const all = await api(center.url, 'GET', '/v1/nodes', { token: T });
  return all.body.nodes.find((n: { node: string }) => n.node === node);
}

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: CENTER_HEARTBEAT_MS });
  const layer = {
    programs: { sleeper: { kind: 'command', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] } },
  };
  for (const node of ['killed', 'old-agent', 'quick']) {
    const put = await api(center.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: layer });
    expect(put.status).toBe(201);
  }
});

afterAll(async () => {
  for (const { agent, stateDir } of agents) {
    if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
    killRecordedChildren(stateDir);
  }
  await center.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('node staleness', () => {
  it('a SIGKILLed agent with --heartbeat 500ms shows stale within 3 heartbeats, not 3 center heartbeats', async () => {
    const stateDir = path.join(dir, 'killed');
    const agent = spawnAgent(
      ['--center', center.url, '--node', 'killed', '--state-dir', stateDir, '--heartbeat', '500ms'],
      { CELERIAC_TOKEN: await token('agent', 'killed'), CELERIAC_TOKEN_FILE: undefined },
    );
    agents.push({ agent, stateDir });
    await until(
      async () => (await summary('killed')).programs.sleeper?.state === 'running',
      20_000,
      'agent running its program',
    );
    expect(await summary('killed')).toMatchObject({ state: 'in_sync', stale: false, stale_after_ms: 1500 });

    agent.child.kill('SIGKILL');
    await agent.exited;
    const killedAt = Date.now();
    await until(async () => (await listed('killed'))?.state === 'stale', 8000, 'the killed node to show stale');
    const elapsed = Date.now() - killedAt;
    // 3 x 500 ms after its last report, plus the polling above; the center's own default would be 9 s.
    expect(elapsed).toBeLessThan(2500);
    expect(await summary('killed')).toMatchObject({ state: 'stale', stale: true });
  });

  it('falls back to 3 x the center heartbeat for a report that announces none', async () => {
    const agentToken = await token('agent', 'old-agent');
    const report = { applied_revision: null, apply_result: 'pending', programs: {} };
    const posted = await api(center.url, 'POST', '/v1/nodes/old-agent/status', { token: agentToken, body: report });
    expect(posted.status).toBe(200);
    expect(await summary('old-agent')).toMatchObject({ stale: false, stale_after_ms: 3 * CENTER_HEARTBEAT_MS });
    await new Promise((r) => setTimeout(r, 2000));
    expect(await summary('old-agent')).toMatchObject({ stale: false });
  });

  it('takes the heartbeat of the latest report, and keeps a floor of one second', async () => {
    const agentToken = await token('agent', 'quick');
    const report = (heartbeat_ms: number) => ({
      applied_revision: null,
      apply_result: 'pending',
      programs: {},
      heartbeat_ms,
    });
    await api(center.url, 'POST', '/v1/nodes/quick/status', { token: agentToken, body: report(100) });
    expect(await summary('quick')).toMatchObject({ stale: false, stale_after_ms: 1000 });
    await until(async () => (await summary('quick')).stale === true, 3000, 'quick to become stale');
    await api(center.url, 'POST', '/v1/nodes/quick/status', { token: agentToken, body: report(60_000) });
    expect(await summary('quick')).toMatchObject({ stale: false, stale_after_ms: 180_000 });
    const bad = await api(center.url, 'POST', '/v1/nodes/quick/status', { token: agentToken, body: report(-5) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toContain('heartbeat_ms');
  });
});
