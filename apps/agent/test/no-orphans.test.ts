import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { ChildRegistry } from '../src/child-registry.js';
import { groupMembers, processStartTicks } from '../src/process-group.js';

const logger = createLogger({ level: 'silent' });
const ADMIN = 'no-orphans-admin-token-0123456789';
const CLI = fileURLToPath(new URL('../../cli/bin/celeriac.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-orphans-'));
const stateDir = path.join(dir, 'state');
const prog = path.join(dir, 'prog.cjs');
let center: RunningCenter;
let admin: CenterApi;
let token = '';
const children: ChildProcess[] = [];

// Each replica starts a grandchild in its process group, as a shell script or a Celery pool would.
writeFileSync(
  prog,
  `require('child_process').spawn('sleep', ['300'], { stdio: 'ignore' });
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
`,
);

beforeAll(async () => {
  center = await startCenter({ logger, dataDir: path.join(dir, 'center'), listen: '127.0.0.1:0', adminToken: ADMIN });
  admin = new CenterApi(center.url, ADMIN);
  token = await admin.createToken('agent', 'n2');
  const res = await admin.putLayer('nodes/n2', {
    programs: {
      sleeper: { kind: 'command', command: [process.execPath, prog], replicas: 2, stop_timeout: '2s' },
    },
  });
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
  it('a restarted agent kills the process groups its SIGKILLed predecessor left behind', async () => {
    const first = startAgent();
    const oldPids = await runningPids();
    await eventually(() => oldPids.every((p) => groupMembers(p).length === 2), 5000, 'grandchildren started');

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Detached children outlive a killed agent...
    expect(oldPids.every((p) => groupMembers(p).length === 2)).toBe(true);

    // ...until the next agent starts: it kills them, then starts its own.
    const second = startAgent();
    const newPids = await runningPids(oldPids);
    for (const pid of oldPids) expect(groupMembers(pid)).toEqual([]);

    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    for (const pid of newPids) expect(groupMembers(pid)).toEqual([]);
  });

  it('leaves a recorded pid alone when it now belongs to another process', async () => {
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    children.push(stranger);
    const pid = stranger.pid as number;
    await eventually(() => processStartTicks(pid) !== null, 2000);
    const registryDir = mkdtempSync(path.join(dir, 'reg-'));
    const record = { program: 'x', kind: 'command', replica: 1, pid, pgid: pid };
    writeFileSync(path.join(registryDir, 'children.json'), JSON.stringify([{ ...record, startTicks: '1' }]));
    expect(await new ChildRegistry(registryDir, logger).reapLeftovers()).toEqual([]);
    expect(groupMembers(pid)).toEqual([pid]);

    const ticks = processStartTicks(pid) as string;
    writeFileSync(path.join(registryDir, 'children.json'), JSON.stringify([{ ...record, startTicks: ticks }]));
    expect(await new ChildRegistry(registryDir, logger).reapLeftovers()).toHaveLength(1);
    expect(groupMembers(pid)).toEqual([]);
  });
});
