import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { type AgentProcess, killRecordedChildren, spawnAgent } from './support/agent-process.js';

// `celeriac agent` as an operator runs it: the real CLI against a real center.

const logger = createLogger({ level: 'silent' });
const ADMIN = 'agent-cli-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-agent-cli-'));
let center: RunningCenter;
let admin: CenterApi;
let operatorToken = '';
const agents: { agent: AgentProcess; stateDir: string }[] = [];

/** No CELERIAC_* variable from the test's own environment leaks into the agent. */
const CLEAN_ENV = {
  CELERIAC_CENTER: undefined,
  CELERIAC_NODE: undefined,
  CELERIAC_TOKEN: undefined,
  CELERIAC_TOKEN_FILE: undefined,
  CELERIAC_STATE_DIR: undefined,
};

beforeAll(async () => {
  center = await startCenter({ logger, dataDir: path.join(dir, 'center'), listen: '127.0.0.1:0', adminToken: ADMIN });
  admin = new CenterApi(center.url, ADMIN);
  operatorToken = await admin.createToken('operator');
  for (const node of ['env-node', 'file-node', 'refused-node']) {
    const res = await admin.putLayer(`nodes/${node}`, { celery: { task_default_queue: node } });
    expect(res.status).toBe(201);
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

function start(node: string, args: string[], env: Record<string, string | undefined>): AgentProcess {
  const stateDir = path.join(dir, `state-${node}`);
  const agent = spawnAgent(['--center', center.url, '--node', node, '--state-dir', stateDir, ...args], {
    ...CLEAN_ENV,
    ...env,
  });
  agents.push({ agent, stateDir });
  return agent;
}

async function stop(agent: AgentProcess): Promise<number | null> {
  agent.child.kill('SIGTERM');
  return (await agent.exited).code;
}

describe('celeriac agent command line', () => {
  it('lists every missing option at once and exits 2', async () => {
    const agent = spawnAgent(['--node', 'n2'], CLEAN_ENV);
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr()).toContain(
      'missing --center (or CELERIAC_CENTER), --token or --token-file (or CELERIAC_TOKEN, CELERIAC_TOKEN_FILE), --state-dir (or CELERIAC_STATE_DIR)',
    );
  });

  it('refuses --token together with --token-file, naming both', async () => {
    const file = path.join(dir, 'both.token');
    writeFileSync(file, 'x\n');
    const agent = start('file-node', ['--token', 'a', '--token-file', file], {});
    expect((await agent.exited).code).toBe(2);
    expect(agent.stderr()).toMatch(/--token and --token-file/);
  });

  it('takes its options from the environment; the token never reaches the log', async () => {
    const token = await admin.createToken('agent', 'env-node');
    const agent = start('env-node', [], { CELERIAC_TOKEN: token });
    await eventually(() => agent.events('agent.started').length > 0, 20_000, 'agent started');
    expect(agent.events('agent.started')[0]).toMatchObject({ token_source: 'CELERIAC_TOKEN' });
    await eventually(async () => (await admin.node('env-node')).state === 'in_sync', 10_000, 'node in sync');
    expect(JSON.stringify(agent.lines)).not.toContain(token);
    expect(await stop(agent)).toBe(0);
  });
});

describe('the agent token', () => {
  it('--token-file wins over an operator token in CELERIAC_TOKEN: every status report is accepted', async () => {
    const file = path.join(dir, 'agent.token');
    writeFileSync(file, `${await admin.createToken('agent', 'file-node')}\n`, { mode: 0o600 });
    const agent = start('file-node', ['--token-file', file, '--heartbeat', '300ms'], {
      CELERIAC_TOKEN: operatorToken,
    });
    await eventually(async () => (await admin.node('file-node')).state === 'in_sync', 10_000, 'node in sync');
    expect(agent.events('agent.started')[0]).toMatchObject({ token_source: '--token-file' });
    // A few heartbeats later still nothing was refused.
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.events('agent.status_refused')).toEqual([]);
    expect((await admin.node('file-node')).state).toBe('in_sync');
    expect(await stop(agent)).toBe(0);
  });

  it('logs every refused status report with its HTTP status, not only the first', async () => {
    const agent = start('refused-node', ['--token', operatorToken, '--heartbeat', '200ms'], {});
    const refused = await eventually(
      () => (agent.events('agent.status_refused').length >= 4 ? agent.events('agent.status_refused') : undefined),
      10_000,
      'four refused status reports logged',
    );
    for (const line of refused) expect(line).toMatchObject({ level: 50, http_status: 403, code: 'AGENT_CENTER_AUTH' });
    expect((await admin.node('refused-node')).state).toBe('unknown');
    expect(await stop(agent)).toBe(0);
  });
});
