import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built CLI (`npm run build` first) against a real center with a rollout held at its first wave.
const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'apps/cli/bin/celeriac.js');
const ADMIN = 'cli-rollout-admin-token-0123456789abcdef';

let center: RunningCenter;
let dataDir: string;
let rolloutId: string;

async function cli(args: string[]) {
  const result = await execa(process.execPath, [bin, ...args], {
    env: { CELERIAC_CENTER: center.url, CELERIAC_TOKEN: ADMIN },
    extendEnv: false,
    reject: false,
    input: '',
    timeout: 30_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function put(layer: string, body: unknown, ifMatch?: number): Promise<number> {
  const response = await fetch(`${center.url}/v1/layers/${layer}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${ADMIN}`,
      'content-type': 'application/json',
      ...(ifMatch === undefined ? {} : { 'if-match': String(ifMatch) }),
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { revision: number }).revision;
}

beforeAll(async () => {
  if (!existsSync(path.join(root, 'apps/cli/dist/commands/rollout.js'))) {
    throw new Error('the CLI is not built; run "npm run build" first');
  }
  dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-cli-rollout-'));
  const logger = createLogger({ level: 'warn', pretty: false, destination: { write: () => undefined } });
  center = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir, logger, statusFlushMs: 20 }),
    adminToken: ADMIN,
    logger,
  });
  const first = await put('defaults', { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'UTC' } });
  for (const node of ['a1', 'a2']) {
    await put(`nodes/${node}`, {
      programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'] } },
    });
  }
  const revision = await put(
    'defaults',
    {
      celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'Europe/Paris' },
      rollout: { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' },
    },
    first,
  );
  rolloutId = `r${revision}`;
}, 60_000);

afterAll(async () => {
  await center?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('celeriac rollout', () => {
  it('lists rollouts and shows one with its waves', async () => {
    const list = await cli(['rollout', 'status']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${rolloutId}\\s+\\d+\\s+defaults\\s+running\\s+1/2\\s+1/2`));
    const one = await cli(['rollout', 'status', rolloutId]);
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toContain('> 1. a1 (soak 3600s, 1/1 served)');
    expect(one.stdout).toContain('  2. a2 (soak 3600s, 0/1 served)');
    expect(one.stdout).toContain('apply_ok');
  });

  it('pauses, resumes and aborts; refuses a wrong state and a bad command', async () => {
    expect((await cli(['rollout', 'pause', rolloutId])).stdout).toContain('paused');
    const again = await cli(['rollout', 'pause', rolloutId]);
    expect(again.exitCode).toBe(5);
    expect(again.stderr).toContain('cannot be paused');
    expect((await cli(['rollout', 'resume', rolloutId])).stdout).toContain('running');
    expect((await cli(['rollout', 'jump', rolloutId])).exitCode).toBe(2);
    expect((await cli(['rollout', 'abort'])).exitCode).toBe(2);
    const aborted = await cli(['rollout', 'abort', rolloutId]);
    expect(aborted.exitCode).toBe(0);
    expect(aborted.stdout).toMatch(/rolled_back/);
    expect(aborted.stdout).toMatch(/rolled back by revision \d+/);
    const json = JSON.parse((await cli(['rollout', 'status', '--json'])).stdout) as { state: string }[];
    expect(json[0]?.state).toBe('rolled_back');
  });
});
