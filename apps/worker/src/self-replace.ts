import { spawn } from 'node:child_process';
import type { Logger } from '@celeriac/logger';

/** Set in a replacement's environment: it exits with the recycle code instead of replacing itself again. */
export const RELAY_ENV = 'CELERIAC_WORKER_RELAY';

/** True when something else replaces this program after a recycle: the agent, or our own relay. */
export function replacedByParent(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CELERIAC_PROGRAM) || Boolean(env[RELAY_ENV]);
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

/**
 * A worker running alone that recycled itself (`worker_max_tasks_per_child`,
 * `worker_max_memory_per_child`) starts a fresh copy of its own command line and stays as a thin
 * relay: it forwards signals, starts the next copy each time one exits with `recycleCode`, and
 * exits with the code of a copy that stopped for any other reason. A copy never relays itself, so
 * there are at most two processes: this one and the worker.
 */
export async function runReplacements(logger: Logger, recycleCode: number): Promise<number> {
  let stopping = false;
  for (;;) {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, [RELAY_ENV]: String(process.pid) },
    });
    logger.info(
      { event: 'worker.replacement_started', child_pid: child.pid },
      `Started a fresh worker process (pid ${child.pid}) in place of the recycled one`,
    );
    const forward = (signal: NodeJS.Signals): void => {
      stopping = true;
      child.kill(signal);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ code: 1, signal: null }));
      child.once('exit', (c, s) => resolve({ code: c, signal: s }));
    });
    for (const s of FORWARDED) process.off(s, forward);
    if (code === recycleCode && !stopping) continue;
    logger.info(
      { event: 'worker.replacement_exited', child_pid: child.pid, code, signal },
      `Worker process ${child.pid} exited (${signal ?? `code ${code}`})`,
    );
    return code ?? 1;
  }
}
