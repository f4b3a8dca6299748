import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Spawns the built CLI (`npx tsc -b tsconfig.build.json` first), as `celeriac ... | head -1` runs it.
const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'apps/cli/bin/celeriac.js');
const ADMIN = 'pipe-test-admin-token-0123456789abcdef';

let center: RunningCenter;
let dataDir: string;

beforeAll(async () => {
  if (!existsSync(path.join(root, 'apps/cli/dist/bin.js'))) {
    throw new Error('the CLI is not built; run "npx tsc -b tsconfig.build.json" first');
  }
  dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-pipe-'));
  const logger = createLogger({ level: 'silent', pretty: false });
  center = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir, logger, statusFlushMs: 20 }),
    adminToken: ADMIN,
    logger,
  });
});

afterAll(async () => {
  await center?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Runs the CLI with its stdout read by nobody: the read end is closed before the CLI writes. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', CELERIAC_CENTER: center.url, CELERIAC_TOKEN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('a closed stdout pipe', () => {
  it('ends `celeriac config set` quietly, with the change made and the usual exit code', async () => {
    const result = await runWithClosedStdout([
      'config',
      'set',
      'defaults',
      'celery.task_default_queue=piped',
      'celery.timezone=UTC',
      '-m',
      'through a closed pipe',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const layer = await fetch(`${center.url}/v1/layers/defaults`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await layer.json()) as { document: unknown }).document).toEqual({
      celery: { task_default_queue: 'piped', timezone: 'UTC' },
    });
  });

  it('keeps the exit code of a failed command, and its message on stderr', async () => {
    const result = await runWithClosedStdout(['config', 'set', 'defaults', 'celery.task_serializer=pickle']);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('"pickle" is not supported');
    expect(result.stderr).not.toMatch(/EPIPE|\n\s+at /);
  });

  it('ends `celeriac config get` and `celeriac nodes` quietly too', async () => {
    for (const args of [['config', 'get', 'defaults'], ['nodes'], ['config', 'history']]) {
      const result = await runWithClosedStdout(args);
      expect(result.stderr.replace(/^# defaults at revision \d+\n$/, ''), args.join(' ')).toBe('');
      expect(result.code, args.join(' ')).toBe(0);
    }
  });
});
