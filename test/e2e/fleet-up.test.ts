import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from './support/center-api.js';
import { CELERIAC_BIN, runCeleriac } from './support/processes.js';

// `celeriac up` as a user runs it: one command, then the CLI against what it printed, then Ctrl-C.

const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-up-'));
let up: ChildProcess | undefined;
let output = '';

afterAll(() => {
  if (up && up.exitCode === null) up.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('celeriac up', () => {
  it('starts redis, a center and an agent with the demo workers, applies a change, and stops cleanly', async () => {
    up = spawn(process.execPath, [CELERIAC_BIN, 'up', '--listen', '127.0.0.1:0', '--demo-producer'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    up.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => up?.once('exit', (code) => resolve(code)));
    const center = await eventually(() => /center\s+(http:\/\/\S+)/.exec(output)?.[1], 60_000, 'banner');
    const token = /operator\s+(\S+)/.exec(output)?.[1] as string;
    expect(token).toMatch(/^cel_/);
    const env = { CELERIAC_CENTER: center, CELERIAC_TOKEN: token };

    const first = await eventually(
      async () => {
        const res = await runCeleriac(['nodes', '--json'], env);
        const nodes = JSON.parse(res.stdout) as {
          node: string;
          state: string;
          programs: Record<string, { pids: number[] }>;
        }[];
        const local = nodes.find((n) => n.node === 'local');
        return local?.state === 'in_sync' && local.programs.demo?.pids.length === 2 ? local : undefined;
      },
      60_000,
      'node local in sync',
    );
    await eventually(() => output.includes('demo task done'), 20_000, 'demo producer results');

    const set = await runCeleriac(
      ['config', 'set', 'defaults', 'celery.task_annotations["tasks.add"].rate_limit=5/s', '-m', 'slow down add'],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    const second = await eventually(
      async () => {
        const res = await runCeleriac(['nodes', '--json'], env);
        const local = (
          JSON.parse(res.stdout) as {
            node: string;
            state: string;
            desired_revision: number;
            applied_revision: number;
            programs: Record<string, { pids: number[] }>;
          }[]
        ).find((n) => n.node === 'local');
        return local?.state === 'in_sync' &&
          local.applied_revision === local.desired_revision &&
          local.programs.demo?.pids.length === 2 &&
          !local.programs.demo.pids.some((p) => first.programs.demo?.pids.includes(p))
          ? local
          : undefined;
      },
      60_000,
      'demo workers restarted onto the new rate limit',
    );
    const workerPids = second.programs.demo?.pids ?? [];
    const state = JSON.parse(readFileSync(path.join(dir, '.celeriac', 'up.json'), 'utf8')) as { redisPid: number };
    expect(alive(state.redisPid)).toBe(true);

    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('celeriac up: stopped');
    expect(workerPids.some(alive)).toBe(false);
    expect(alive(state.redisPid)).toBe(false);
  }, 120_000);
});
