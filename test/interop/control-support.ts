import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PY_DIR, PYTHON, pyEnv, runPython } from '../../libs/control-plane/test/helpers.js';
import { ChildProgram } from '../support/celery-child-process.js';
import { CELERIAC_BIN } from '../support/celery-ts-worker.js';

/** Helpers of the control-plane interop tests: the built `celeriac worker` and Debian's `celery` CLI. */

export const CONTROL_TASKS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ts/control-tasks.ts');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A `celeriac worker -A test/interop/ts/control-tasks.ts` process. */
export interface ControlWorker {
  name: string;
  program: ChildProgram;
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startControlWorker(o: {
  brokerUrl: string;
  name: string;
  queues?: string[];
  concurrency?: number;
  /** Extra CLI arguments, e.g. `-E`. */
  args?: string[];
  settings?: Record<string, unknown>;
}): Promise<ControlWorker> {
  const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-ctl-'));
  const readyFile = path.join(dir, 'ready.json');
  const config = { broker_url: o.brokerUrl, result_backend: o.brokerUrl, ...o.settings };
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const program = new ChildProgram({
    command: process.execPath,
    args: [
      CELERIAC_BIN,
      'worker',
      '-A',
      CONTROL_TASKS,
      '-Q',
      (o.queues ?? ['celery']).join(','),
      '-c',
      String(o.concurrency ?? 2),
      '-n',
      o.name,
      '--config',
      configFile,
      '--ready-file',
      readyFile,
      ...(o.args ?? []),
    ],
    cwd: ROOT,
    env: { CELERIAC_INTEROP_CONFIG: JSON.stringify(config) },
    label: `celeriac worker ${o.name}`,
  });
  const deadline = Date.now() + 30_000;
  while (!existsSync(readyFile)) {
    if (!program.running || Date.now() > deadline) {
      await program.kill();
      throw new Error(`${o.name} did not get ready; output:\n${program.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    name: o.name,
    program,
    stop: async (timeoutMs = 20_000) => {
      const exit = await program.stop(timeoutMs);
      rmSync(dir, { recursive: true, force: true });
      return exit;
    },
  };
}

export interface CliRun {
  argv: string[];
  exit_code: number;
  output: string;
}

/** Runs many `celery -A ctlapp ...` lines in one Python process (cli_batch.py); every line should name a node (`-d`). */
export async function celeryBatch(brokerUrl: string, lines: string[][]): Promise<CliRun[]> {
  const run = await runPython(['cli_batch.py'], brokerUrl, {
    input: JSON.stringify(lines.map((argv) => ['-A', 'ctlapp', ...argv])),
    timeoutMs: 60_000,
  });
  if (run.code !== 0) throw new Error(`cli_batch.py failed (${run.code}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as CliRun[];
}

/** The real `python3 -m celery -A ctlapp ...` binary. */
export function celery(brokerUrl: string, ...argv: string[]) {
  return runPython(['-m', 'celery', '-A', 'ctlapp', ...argv], brokerUrl);
}

/** A long-running Python program of the control-plane helpers (`celery events --dump`, events_state.py, a worker). */
export function pythonProgram(brokerUrl: string, args: string[], label: string): ChildProgram {
  return new ChildProgram({ command: PYTHON, args, cwd: PY_DIR, env: pyEnv(brokerUrl), label });
}

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
