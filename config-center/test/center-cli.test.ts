import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { api, until } from './support/center-harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'apps/cli/bin/celeriac.js');
let dataDir: string;
const children: ChildProcess[] = [];

function startCli(extraEnv: Record<string, string> = {}, extraArgs: string[] = []) {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  if (!('CELERIAC_ADMIN_TOKEN' in extraEnv)) delete env.CELERIAC_ADMIN_TOKEN;
  const child = spawn(process.execPath, [BIN, 'center', '--data', dataDir, '--listen', '127.0.0.1:0', ...extraArgs], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = async () => {
    await until(() => /listening on (http:\/\/\S+)/.test(output.stdout), 20_000, 'the center to listen');
    return (/listening on (http:\/\/[^\s"]+)/.exec(output.stdout) as RegExpExecArray)[1] as string;
  };
  return { child, output, exited, url };
}

beforeAll(() => {
  execFileSync('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT, stdio: 'ignore', timeout: 240_000 });
  dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-center-cli-'));
}, 300_000);
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('celeriac center', () => {
  it('prints a generated admin token once, logs where it listens, and stops cleanly on SIGTERM', async () => {
    const first = startCli();
    const url = await first.url();
    const token = /\n(cel_[A-Za-z0-9_-]{20,})\n/.exec(first.output.stdout)?.[1];
    expect(token).toBeDefined();
    expect(first.output.stdout).toContain('"store":"file:');
    expect((await api(url, 'GET', '/v1/tokens', { token: token as string })).status).toBe(200);

    const held = api(url, 'GET', '/v1/nodes/n1/config?after=0&wait=60', { token: token as string });
    await until(async () => /long_polls_held 1/.test((await api(url, 'GET', '/metrics')).text), 10_000, 'a held poll');
    first.child.kill('SIGTERM');
    expect((await held).status).toBe(304);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    // The token appears once, in the banner, never in a log line.
    expect(first.output.stdout.split(token as string)).toHaveLength(2);

    const second = startCli();
    const secondUrl = await second.url();
    expect(second.output.stdout).not.toContain('cel_');
    expect((await api(secondUrl, 'GET', '/v1/tokens', { token: token as string })).status).toBe(200);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it.each([
    [['--nope'], '--nope'],
    [['--listen', 'nonsense'], '--listen nonsense is not host:port'],
    [['--listen', '127.0.0.1:99999'], 'is not host:port'],
    [['--store', 'ftp://user:pw-secret@host/'], 'is not a store; use "file" or a redis://host:port/db URL'],
    [['--rollout-lease', 'soon'], '--rollout-lease soon is not a duration of at least 1s'],
    [['--rollout-lease', '500ms'], '--rollout-lease 500ms is not a duration of at least 1s'],
  ])('refuses the bad flags %j as a usage error: exit 2, no HTTP code', async (flags, message) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-center-flags-'));
    const bad = spawn(process.execPath, [BIN, 'center', '--data', dir, ...flags], {
      env: { ...process.env, CELERIAC_ADMIN_TOKEN: 'a-long-enough-admin-token-123' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [bad.stdout, bad.stderr]) {
      stream?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
    }
    const code = await new Promise((resolve) => bad.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(2);
    expect(output).toContain(message);
    expect(output).not.toMatch(/BAD_REQUEST|pw-secret/);
  });

  it('refuses a short admin token as a usage error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-center-flags-'));
    const bad = spawn(process.execPath, [BIN, 'center', '--data', dir, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, CELERIAC_ADMIN_TOKEN: 'short' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    bad.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => bad.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(2);
    expect(stderr).toContain('the admin token must have at least 16 characters');
  });

  it('--rollout-lease sets the lease of the Redis-store replica driving rollouts; the file store says it ignores it', async () => {
    const redis = await RedisServer.start();
    try {
      const env = { CELERIAC_ADMIN_TOKEN: 'a-long-enough-admin-token-123' };
      const shared = startCli(env, ['--store', redis.url(0), '--rollout-lease', '3s']);
      await shared.url();
      await until(() => shared.output.stdout.includes('center.rollout_lease_taken'), 20_000, 'the lease taken');
      const taken = shared.output.stdout
        .split('\n')
        .filter((line) => line.includes('center.rollout_lease_taken'))
        .map((line) => JSON.parse(line) as { lease_ms: number });
      expect(taken[0]?.lease_ms).toBe(3000);
      shared.child.kill('SIGTERM');
      expect((await shared.exited).code).toBe(0);

      const single = startCli(env, ['--rollout-lease', '15000']);
      await single.url();
      expect(single.output.stdout).toContain('"event":"center.option_ignored"');
      single.child.kill('SIGTERM');
      expect((await single.exited).code).toBe(0);
    } finally {
      await redis.stop();
    }
  });
});
