import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { ChildRegistry } from '../src/child-registry.js';
import { Leftovers } from '../src/leftovers.js';
import { groupMembers, processStartTicks } from '../src/process-group.js';

const logger = createLogger({ level: 'silent' });
const ADMIN = 'no-orphans-admin-token-0123456789';
const CLI = fileURLToPath(new URL('../../cli/bin/celeriac.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-orphans-'));
const stateDir = path.join(dir, 'state');
const prog = path.join(dir, 'prog.cjs');
const journal = path.join(dir, 'journal.log');
let center: RunningCenter;
let admin: CenterApi;
let token = '';
const children: ChildProcess[] = [];

// Each replica starts a grandchild in its process group, as a shell script or a Celery pool would,
// and notes a TERM it gets in the journal.
writeFileSync(
  prog,
  `require('child_process').spawn('sleep', ['300'], { stdio: 'ignore' });
process.on('SIGTERM', () => {
  require('fs').appendFileSync(${JSON.stringify(journal)}, 'term ' + process.pid + '\\n');
  process.exit(0);
});
setInterval(() => {}, 1000);
`,
);
const SLEEPER = { kind: 'command', command: [process.execPath, prog], replicas: 2, stop_timeout: '2s' };

function termed(): number[] {
  if (!existsSync(journal)) return [];
  return readFileSync(journal, 'utf8')
    .trim()
    .split('\n')
    .map((line) => Number(line.split(' ')[1]));
}

beforeAll(async () => {
  center = await startCenter({ logger, dataDir: path.join(dir, 'center'), listen: '127.0.0.1:0', adminToken: ADMIN });
  admin = new CenterApi(center.url, ADMIN);
  token = await admin.createToken('agent', 'n2');
  const res = await admin.putLayer('nodes/n2', { programs: { sleeper: SLEEPER } });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await center.close();
  rmSync(dir, { recursive: true, force: true });
});

function startAgent(): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'agent',
      '--center',
      center.url,
      '--node',
      'n2',
      '--token',
      token,
      '--state-dir',
      stateDir,
      '--heartbeat',
      '300ms',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(child);
  return child;
}

async function runningPids(exclude: number[] = []): Promise<number[]> {
  return eventually(async () => {
    const node = await admin.node('n2');
    const s = node.programs.sleeper;
    return s?.state === 'running' && s.pids.length === 2 && !s.pids.some((p) => exclude.includes(p))
      ? s.pids
      : undefined;
  }, 20_000);
}

describe('no orphans', () => {
  it('a restarted agent adopts what its SIGKILLed predecessor left on the same config, and stops the rest warm', async () => {
    const first = startAgent();
    const oldPids = await runningPids();
    await eventually(() => oldPids.every((p) => groupMembers(p).length === 2), 5000, 'grandchildren started');

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Detached children outlive a killed agent...
    expect(oldPids.every((p) => groupMembers(p).length === 2)).toBe(true);

    // ...and the next agent, on the same config, takes them over as they run.
    const second = startAgent();
    expect(await runningPids()).toEqual(oldPids);
    for (const pid of oldPids) expect(groupMembers(pid)).toHaveLength(2);
    expect(termed()).toEqual([]);

    // A change while it runs restarts the adopted processes like its own: TERM, exit seen, gone.
    const v2 = { ...SLEEPER, env: { SLEEPER_VERSION: '2' } };
    expect((await admin.putLayer('nodes/n2', { programs: { sleeper: v2 } })).status).toBe(200);
    const v2Pids = await runningPids(oldPids);
    await eventually(() => oldPids.every((p) => groupMembers(p).length === 0), 10_000, 'adopted groups gone');
    expect(termed().sort()).toEqual([...oldPids].sort());

    // Killed again, and the command changed meanwhile: the next agent stops them warm (TERM, then
    // their group goes) and starts its own.
    second.kill('SIGKILL');
    await new Promise((r) => second.once('exit', r));
    const v3 = { ...SLEEPER, env: { SLEEPER_VERSION: '3' } };
    expect((await admin.putLayer('nodes/n2', { programs: { sleeper: v3 } })).status).toBe(200);
    const third = startAgent();
    const newPids = await runningPids([...oldPids, ...v2Pids]);
    await eventually(() => v2Pids.every((p) => groupMembers(p).length === 0), 10_000, 'leftover groups gone');
    expect(termed().sort()).toEqual([...oldPids, ...v2Pids].sort());

    third.kill('SIGTERM');
    const code = await new Promise((r) => third.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    for (const pid of newPids) expect(groupMembers(pid)).toEqual([]);
  });

  it('leaves a recorded pid alone when it now belongs to another process', async () => {
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    children.push(stranger);
    const pid = stranger.pid as number;
    await eventually(() => processStartTicks(pid) !== null, 2000);
    const registryDir = mkdtempSync(path.join(dir, 'reg-'));
    const record = { program: 'x', kind: 'command', replica: 1, pid, pgid: pid, stopTimeoutMs: 2000 };
    writeFileSync(path.join(registryDir, 'children.json'), JSON.stringify([{ ...record, startTicks: '1' }]));
    expect(new ChildRegistry(registryDir, logger).loadLeftovers()).toEqual([]);
    expect(groupMembers(pid)).toEqual([pid]);

    const ticks = processStartTicks(pid) as string;
    writeFileSync(path.join(registryDir, 'children.json'), JSON.stringify([{ ...record, startTicks: ticks }]));
    const registry = new ChildRegistry(registryDir, logger);
    const leftovers = new Leftovers(registry, logger);
    expect(leftovers.load()).toHaveLength(1);
    // Not adopted (no program claims it): stopped warm, and forgotten by the registry.
    expect(await leftovers.stopRest()).toHaveLength(1);
    expect(groupMembers(pid)).toEqual([]);
    expect(registry.list()).toEqual([]);
  });
});
