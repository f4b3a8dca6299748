import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { Agent } from '../src/agent.js';
import type { AgentEvent, AgentOptions } from '../src/agent-types.js';
import { AgentIllegalStateError, AgentStateDirError, ConfigInvalidError, ProgramSpawnError } from '../src/errors.js';

// How an agent's failures reach its listeners, its log and its status: each carries an error
// with a stable AGENT_ code.

const ADMIN = 'agent-errors-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-agent-errors-'));
let center: RunningCenter;
let admin: CenterApi;
const agents: Agent[] = [];

beforeAll(async () => {
  center = await startCenter({
    logger: createLogger({ level: 'silent' }),
    dataDir: path.join(dir, 'center'),
    listen: '127.0.0.1:0',
    adminToken: ADMIN,
  });
  admin = new CenterApi(center.url, ADMIN);
});

afterAll(async () => {
  for (const agent of agents) await agent.close();
  await center.close();
  rmSync(dir, { recursive: true, force: true });
});

function newAgent(options: Partial<AgentOptions> & { stateDir: string; node: string }) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    pretty: false,
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const agent = new Agent({
    centerUrl: center.url,
    token: 'none',
    logger,
    heartbeatMs: 300,
    longPollWaitSec: 5,
    startupFetchTimeoutMs: 1000,
    ...options,
  });
  agents.push(agent);
  const events: AgentEvent[] = [];
  agent.onEvent((e) => events.push(e));
  return { agent, lines, events };
}

describe('agent errors', () => {
  it('a program that cannot be spawned fails the apply with AGENT_PROGRAM_SPAWN_FAILED', async () => {
    const put = await admin.putLayer('nodes/spawn', {
      programs: { ghost: { kind: 'command', command: [path.join(dir, 'no-such-program')], ready_timeout: '2s' } },
    });
    const revision = (put.body as { revision: number }).revision;
    const { agent, events, lines } = newAgent({
      node: 'spawn',
      stateDir: path.join(dir, 'spawn'),
      token: await admin.createToken('agent', 'spawn'),
    });
    await agent.start();
    const applied = events.find((e) => e.type === 'applied');
    expect(applied).toMatchObject({ revision, result: 'failed' });
    const errors = applied?.type === 'applied' ? applied.errors : [];
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProgramSpawnError);
    expect(errors[0]?.code).toBe('AGENT_PROGRAM_SPAWN_FAILED');
    const failed = lines.find((l) => l.event === 'agent.apply_failed');
    expect(failed).toMatchObject({ revision, codes: ['AGENT_PROGRAM_SPAWN_FAILED'] });
    expect(failed?.err).toMatchObject({ code: 'AGENT_PROGRAM_SPAWN_FAILED' });
    const node = await eventually(async () => {
      const n = await admin.node('spawn');
      return n.apply_result === 'failed' ? n : undefined;
    });
    expect(node.message).toMatch(/could not start .*no-such-program/);
  });

  it('an invalid last-known-good config is refused with AGENT_CONFIG_INVALID while the center is unreachable', async () => {
    const stateDir = path.join(dir, 'invalid');
    mkdirSync(stateDir, { recursive: true });
    const config = { celery: {}, programs: { w: { kind: 'no-such-kind' } } };
    writeFileSync(
      path.join(stateDir, 'last-known-good.json'),
      JSON.stringify({ revision: 3, hash: 'h', config, savedAt: '' }),
    );
    const { agent, events, lines } = newAgent({ node: 'invalid', stateDir, centerUrl: 'http://127.0.0.1:9' });
    await agent.start();
    expect(agent.state).toBe('degraded');
    const applied = events.find((e) => e.type === 'applied');
    expect(applied).toMatchObject({ revision: 3, result: 'invalid' });
    const error = applied?.type === 'applied' ? applied.errors[0] : undefined;
    expect(error).toBeInstanceOf(ConfigInvalidError);
    expect(error?.code).toBe('AGENT_CONFIG_INVALID');
    expect((error as ConfigInvalidError).issues.map((i) => i.path)).toEqual(['programs.w.kind']);
    expect(lines.find((l) => l.event === 'agent.config_refused')).toMatchObject({
      revision: 3,
      err: { code: 'AGENT_CONFIG_INVALID' },
    });
    expect(agent.status()).toMatchObject({ apply_result: 'invalid', attempted_revision: 3, applied_revision: null });
  });

  it('a state dir it cannot create fails start() with AGENT_STATE_DIR and leaves the agent failed', async () => {
    // A plain file where a directory should be: refused even for root.
    const file = path.join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const { agent, lines, events } = newAgent({ node: 'nodir', stateDir: path.join(file, 'state') });
    const error = await agent.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentStateDirError);
    expect((error as AgentStateDirError).code).toBe('AGENT_STATE_DIR');
    expect(agent.state).toBe('failed');
    expect(events.filter((e) => e.type === 'state').map((e) => e.type === 'state' && e.state)).toEqual([
      'starting',
      'failed',
    ]);
    expect(lines.filter((l) => l.event === 'agent.state')).toMatchObject([
      { from: 'created', to: 'starting' },
      { from: 'starting', to: 'failed', reason: expect.stringMatching(/cannot create the state dir/) },
    ]);
    await agent.close();
    expect(agent.state).toBe('failed');
    const again = await agent.start().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AgentIllegalStateError);
    expect((again as AgentIllegalStateError).code).toBe('AGENT_ILLEGAL_STATE');
    expect((again as Error).message).toMatch(/failed agent/);
  });
});
