import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger, logSchemaViolations } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { Agent } from '../src/agent.js';
import { readProcStat } from '../src/process-group.js';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  level: 'debug',
  pretty: false,
  destination: { write: (line: string) => logLines.push(JSON.parse(line)) },
});
const ADMIN = 'agent-test-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-agent-'));
const dataDir = path.join(dir, 'center');
const stateDir = path.join(dir, 'state');
const journal = path.join(dir, 'journal.log');
const prog = path.join(dir, 'prog.cjs');
let center: RunningCenter | undefined;
let port = 0;
let admin: CenterApi;
let agentToken = '';
const agents: Agent[] = [];

writeFileSync(
  prog,
  `const fs = require('fs');
const [, , name, journal] = process.argv;
const cfg = fs.readFileSync(process.env.CELERIAC_CONFIG_FILE, 'utf8').trim();
const log = (event) => fs.appendFileSync(journal, JSON.stringify({ event, name, pid: process.pid, cfg }) + '\\n');
log('start');
process.on('SIGTERM', () => { log('term'); process.exit(0); });
setInterval(() => {}, 1000);
`,
);

function layer(queue: string, bTemplate = 'static\n', bReplicas = 1) {
  const program = (name: string, template: string, replicas = 1) => ({
    kind: 'command',
    command: [process.execPath, prog, name, journal],
    config_template: template,
    config_file: `${name}.conf`,
    stop_timeout: '3s',
    ready_timeout: '10s',
    replicas,
  });
  return {
    celery: { broker_url: 'redis://127.0.0.1:6399/0', task_default_queue: queue },
    programs: { a: program('a', 'queue={{celery.task_default_queue}}\n'), b: program('b', bTemplate, bReplicas) },
  };
}

function starts(name: string): { pid: number; cfg: string }[] {
  if (!existsSync(journal)) return [];
  return readFileSync(journal, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; name: string; pid: number; cfg: string })
    .filter((e) => e.event === 'start' && e.name === name);
}

function alive(pid: number): boolean {
  const s = readProcStat(pid);
  return s !== null && s.state !== 'Z';
}

async function startTheCenter(): Promise<void> {
  center = await startCenter({
    logger: createLogger({ level: 'silent' }),
    dataDir,
    listen: `127.0.0.1:${port}`,
    adminToken: ADMIN,
    heartbeatMs: 500,
  });
  port = Number(new URL(center.url).port);
}

function newAgent(): Agent {
  const agent = new Agent({
    centerUrl: `http://127.0.0.1:${port}`,
    node: 'n1',
    token: agentToken,
    stateDir,
    logger,
    metricsListen: '127.0.0.1:0',
    heartbeatMs: 300,
    longPollWaitSec: 5,
    startupFetchTimeoutMs: 1500,
    watchDebounceMs: 50,
  });
  agents.push(agent);
  return agent;
}

let agent: Agent;
let revision = 0;

beforeAll(async () => {
  await startTheCenter();
  admin = new CenterApi(center!.url, ADMIN);
  agentToken = await admin.createToken('agent', 'n1');
  const res = await admin.putLayer('nodes/n1', layer('q1'));
  expect(res.status).toBe(201);
  revision = (res.body as { revision: number }).revision;
});

afterAll(async () => {
  for (const a of agents) await a.close();
  await center?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Agent against a real center', () => {
  it('applies its node config, writes the files and reports the applied revision', async () => {
    agent = newAgent();
    await agent.start();
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.applied_revision === revision && n.programs.a?.pids.length === 1 && n.programs.b?.state === 'running'
        ? n
        : undefined;
    });
    expect(node.apply_result).toBe('ok');
    expect(node.state).toBe('in_sync');
    expect(readFileSync(path.join(stateDir, 'programs', 'a', 'a.conf'), 'utf8')).toBe('queue=q1\n');
    expect(starts('a')).toMatchObject([{ cfg: 'queue=q1' }]);
    const health = await (await fetch(`${agent.metricsUrl}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', center_reachable: true, applied_revision: revision });
    const metrics = await (await fetch(`${agent.metricsUrl}/metrics`)).text();
    expect(metrics).toContain(`celeriac_agent_applied_revision ${revision}`);
    expect(metrics).toContain('celeriac_agent_program_state{program="a",state="running"} 1');
  });

  it('restarts only the program a change touches, with the reason reported', async () => {
    const [aBefore] = agent.status().programs.a!.pids;
    const [bBefore] = agent.status().programs.b!.pids;
    const res = await admin.putLayer('nodes/n1', layer('q2'));
    revision = (res.body as { revision: number }).revision;
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.applied_revision === revision && n.programs.a?.state === 'running' ? n : undefined;
    });
    expect(node.message).toMatch(/a: restart \(task_default_queue changed \(q1 → q2\)\)/);
    expect(node.programs.a!.pids[0]).not.toBe(aBefore);
    expect(node.programs.b!.pids).toEqual([bBefore]);
    expect(starts('a').at(-1)?.cfg).toBe('queue=q2');
    expect(starts('b')).toHaveLength(1);
    await eventually(() => !alive(aBefore as number), 5000, 'old replica gone');
  });

  it('refuses a revision it cannot render: reported invalid, nothing restarted', async () => {
    const pids = { a: agent.status().programs.a!.pids, b: agent.status().programs.b!.pids };
    const applied = revision;
    const res = await admin.putLayer('nodes/n1', layer('q2', 'x={{celery.no_such_setting}}\n'));
    const bad = (res.body as { revision: number }).revision;
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.attempted_revision === bad && n.apply_result === 'invalid' ? n : undefined;
    });
    expect(node.applied_revision).toBe(applied);
    expect(node.message).toMatch(/celery\.no_such_setting/);
    expect(node.state).toBe('failed');
    expect(agent.status().programs.a!.pids).toEqual(pids.a);
    expect(agent.status().programs.b!.pids).toEqual(pids.b);
    // Putting the good config back applies without restarting anything.
    const fixed = await admin.putLayer('nodes/n1', layer('q2'));
    revision = (fixed.body as { revision: number }).revision;
    await eventually(async () => (await admin.node('n1')).applied_revision === revision);
    expect(agent.status().programs.a!.pids).toEqual(pids.a);
    expect(agent.status().programs.b!.pids).toEqual(pids.b);
  });

  it('applies a hand edit of a config file and reports it as drift', async () => {
    const [aBefore] = agent.status().programs.a!.pids;
    const [bBefore] = agent.status().programs.b!.pids;
    writeFileSync(path.join(stateDir, 'programs', 'a', 'a.conf'), 'queue=by-hand\n');
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.drift && n.programs.a?.pids[0] !== aBefore && n.programs.a?.state === 'running' ? n : undefined;
    });
    expect(node.state).toBe('drift');
    expect(node.message).toMatch(/edited on the host/);
    expect(starts('a').at(-1)?.cfg).toBe('queue=by-hand');
    expect(agent.status().programs.b!.pids).toEqual([bBefore]);
  });

  it('scales a program without restarting its replica; the next revision replaces a hand edit', async () => {
    const [aBefore] = agent.status().programs.a!.pids;
    const [bBefore] = agent.status().programs.b!.pids;
    const res = await admin.putLayer('nodes/n1', layer('q2', 'static\n', 2));
    revision = (res.body as { revision: number }).revision;
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.applied_revision === revision && n.programs.b?.pids.length === 2 ? n : undefined;
    });
    expect(node.message).toMatch(/b: scale \(replicas 1 → 2\)/);
    expect(node.programs.b!.pids[0]).toBe(bBefore);
    // a ran on a hand-edited file (previous test): the center's config takes over again.
    expect(node.message).toMatch(/a: restart \(config file had been edited on the host/);
    expect(node.programs.a!.pids[0]).not.toBe(aBefore);
    expect(starts('a').at(-1)?.cfg).toBe('queue=q2');
    expect(node.drift).toBe(false);
    const aNow = node.programs.a!.pids[0];
    const back = await admin.putLayer('nodes/n1', layer('q2'));
    revision = (back.body as { revision: number }).revision;
    await eventually(async () => {
      const n = await admin.node('n1');
      return n.applied_revision === revision && n.programs.b?.pids.length === 1 ? n : undefined;
    });
    expect(agent.status().programs.b!.pids).toEqual([bBefore]);
    expect(agent.status().programs.a!.pids).toEqual([aNow]);
  });

  it('keeps programs running without the center and starts them from last-known-good', async () => {
    const pids = [...agent.status().programs.a!.pids, ...agent.status().programs.b!.pids];
    await center!.close();
    await eventually(async () => {
      const h = (await (await fetch(`${agent.metricsUrl}/healthz`)).json()) as { center_reachable: boolean };
      return h.center_reachable === false;
    });
    expect(agent.state).toBe('degraded');
    await new Promise((r) => setTimeout(r, 500));
    expect(pids.every(alive)).toBe(true);

    await agent.close();
    expect(pids.some(alive)).toBe(false);

    const second = newAgent();
    await second.start();
    expect(second.state).toBe('degraded');
    const status = second.status();
    expect(status.programs.a?.state).toBe('running');
    expect(status.programs.b?.state).toBe('running');
    expect(status.applied_revision).toBe(revision);
    expect(starts('a').at(-1)?.cfg).toBe('queue=q2');

    await startTheCenter();
    // The center still has the first agent's last report; wait for the second agent's.
    const node = await eventually(async () => {
      const n = await admin.node('n1');
      return n.programs.a?.pids[0] === status.programs.a!.pids[0] ? n : undefined;
    });
    expect(node).toMatchObject({ applied_revision: revision, apply_result: 'ok', state: 'in_sync' });
    expect(second.status().programs.a!.pids).toEqual(status.programs.a!.pids);
    await eventually(() => second.state === 'running', 10_000, 'agent sees the center again');
  });

  it('starts from last-known-good when the center serves a config it cannot apply', async () => {
    const good = revision;
    const res = await admin.putLayer('nodes/n1', layer('q2', 'x={{celery.no_such_setting}}\n'));
    const bad = (res.body as { revision: number }).revision;
    const running = agents.at(-1) as Agent;
    await eventually(() => running.status().attempted_revision === bad, 10_000, 'bad revision seen');
    await running.close();

    const third = newAgent();
    await third.start();
    const status = third.status();
    expect(status).toMatchObject({ applied_revision: good, attempted_revision: bad, apply_result: 'invalid' });
    expect(status.message).toMatch(/running the last-known-good revision/);
    expect(status.programs.a?.state).toBe('running');
    expect(status.programs.b?.state).toBe('running');
  });

  it('logs every line with an event and snake_case fields, and every state transition with its reason', () => {
    const bad = logLines
      .map((line) => ({ event: line.event, problems: logSchemaViolations(line) }))
      .filter((l) => l.problems.length > 0);
    expect(bad).toEqual([]);
    const agentStates = logLines.filter((l) => l.event === 'agent.state');
    expect(agentStates.map((l) => `${l.from}→${l.to}`)).toEqual(
      expect.arrayContaining(['created→starting', 'starting→running', 'running→degraded', 'stopping→stopped']),
    );
    for (const line of [...agentStates, ...logLines.filter((l) => l.event === 'program.state')]) {
      expect(line).toMatchObject({ from: expect.any(String), to: expect.any(String), reason: expect.any(String) });
    }
    expect(logLines.filter((l) => l.event === 'program.state' && l.program === 'a').map((l) => l.to)).toEqual(
      expect.arrayContaining(['starting', 'running', 'stopping', 'stopped']),
    );
  });
});
