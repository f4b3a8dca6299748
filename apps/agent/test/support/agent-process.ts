import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The committed entry point of the `celeriac` command (runs the build in apps/cli/dist). */
export const CELERIAC_CLI = fileURLToPath(new URL('../../../cli/bin/celeriac.js', import.meta.url));

/** A `celeriac agent` process with its JSON log lines. */
export interface AgentProcess {
  child: ChildProcess;
  /** Parsed stdout lines (the agent logs JSON when stdout is not a terminal). */
  lines: Record<string, unknown>[];
  /** What it wrote to stderr (usage errors). */
  stderr(): string;
  /** Lines whose `event` is `event`. */
  events(event: string): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `celeriac agent <args>` with `env` on top of this process's environment (a value of
 * undefined removes the variable) and collects its log lines.
 */
export function spawnAgent(args: string[], env: Record<string, string | undefined> = {}): AgentProcess {
  const fullEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env })) if (value !== undefined) fullEnv[key] = value;
  const child = spawn(process.execPath, [CELERIAC_CLI, 'agent', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: fullEnv,
  });
  const lines: Record<string, unknown>[] = [];
  let carry = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = carry + chunk.toString('utf8');
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ event: 'test.unparsed', text: part });
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, stderr: () => stderr, events: (event) => lines.filter((l) => l.event === event), exited };
}

/**
 * KILLs the process groups an agent recorded in `<stateDir>/children.json`: the children of an
 * agent killed with SIGKILL outlive it (its successor would reap them; a test has none).
 */
export function killRecordedChildren(stateDir: string): void {
  let records: { pgid?: number }[] = [];
  try {
    records = JSON.parse(readFileSync(path.join(stateDir, 'children.json'), 'utf8')) as { pgid?: number }[];
  } catch {
    return;
  }
  for (const record of records) {
    if (typeof record.pgid !== 'number' || record.pgid <= 1) continue;
    try {
      process.kill(-record.pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
