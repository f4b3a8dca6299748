// `celeriac dead-letter` through the built CLI (`npx tsc -b tsconfig.build.json` first), for the
// Redis and the RabbitMQ tests alike.
import path from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';

const bin = path.resolve(import.meta.dirname, '../../bin/celeriac.js');

/** What one CLI run printed and how it ended. */
export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `celeriac dead-letter <args>` with only `env`, and checks that `secret` shows in none of its output. */
export async function deadLetterCli(args: string[], env: Record<string, string>, secret: string): Promise<CliResult> {
  const r = await execa(process.execPath, [bin, 'dead-letter', ...args], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  // The password never shows, whatever happened.
  expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}
