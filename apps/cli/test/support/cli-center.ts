import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { execa } from 'execa';

// What the CLI tests that drive the built `celeriac` against a real center share.

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const BIN = path.join(ROOT, 'apps/cli/bin/celeriac.js');

/** What a run of the CLI gave. */
export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Throws unless the CLI is built (its `dist/commands/<command>.js` exists): the tests spawn the build. */
export function requireBuiltCli(command: string): void {
  if (!existsSync(path.join(ROOT, `apps/cli/dist/commands/${command}.js`))) {
    throw new Error('the CLI is not built; run "npx tsc -b tsconfig.build.json" first');
  }
}

/** Runs the built CLI with `env` only (nothing inherited), `input` on stdin, for 30 s at most. */
export async function runCli(args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  const result = await execa(process.execPath, [BIN, ...args], {
    env,
    extendEnv: false,
    reject: false,
    input,
    timeout: 30_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A listening center with a file store in a fresh temporary directory; close() also removes it. */
export interface FileCenter {
  center: RunningCenter;
  dataDir: string;
  close(): Promise<void>;
}

/** Starts a center on a free port with `adminToken`, a quiet logger and its data in a temp dir named after `prefix`. */
export async function startFileCenter(prefix: string, adminToken: string): Promise<FileCenter> {
  const dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  const logger = createLogger({ level: 'warn', pretty: false, destination: { write: () => undefined } });
  const center = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir, logger, statusFlushMs: 20 }),
    adminToken,
    logger,
  });
  return {
    center,
    dataDir,
    close: async () => {
      await center.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
