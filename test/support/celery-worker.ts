import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildProgram } from './celery-child-process.js';

/** Folder of the Python test app (`pytasks.py`) and the Python client script (`client.py`). */
export const PYTASKS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../interop/py');

/** Debian's Python interpreter with Celery 5.2 installed. */
export const PYTHON = '/usr/bin/python3';

/** Environment that makes `pytasks` read `config` (Celery settings) and find its module. */
export function pytasksEnv(
  config: Record<string, unknown>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PYTHONPATH: PYTASKS_DIR,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTASKS_CONFIG: JSON.stringify(config),
    ...extra,
  };
}

export interface CeleryWorkerOptions {
  /** Celery settings for `pytasks` (broker_url, result_backend, task_acks_late, ...). */
  config: Record<string, unknown>;
  queues?: string[];
  pool?: 'solo' | 'prefork' | 'threads';
  concurrency?: number;
  /** Node name, e.g. `py1@localhost`. */
  name?: string;
  loglevel?: string;
  /** Extra environment, e.g. PYTASKS_WORKER_TAG. */
  env?: Record<string, string>;
  prefetchMultiplier?: number;
  readyTimeoutMs?: number;
}

/** A real Python Celery worker (`python3 -m celery -A pytasks worker`) for one test. */
export class CeleryWorker {
  private constructor(
    readonly program: ChildProgram,
    readonly name: string,
  ) {}

  /** Spawns the worker and resolves once it logged `ready.`. */
  static async start(options: CeleryWorkerOptions): Promise<CeleryWorker> {
    const program = CeleryWorker.spawn(options);
    try {
      await program.program.waitForOutput(/ ready\.\s*$/m, options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      await program.program.kill();
      throw err;
    }
    return program;
  }

  /** Spawns the worker without waiting for readiness. */
  static spawn(options: CeleryWorkerOptions): CeleryWorker {
    const name = options.name ?? `py-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`;
    const args = [
      '-m',
      'celery',
      '-A',
      'pytasks',
      'worker',
      '--pool',
      options.pool ?? 'solo',
      '-Q',
      (options.queues ?? ['celery']).join(','),
      '-n',
      name,
      '-l',
      options.loglevel ?? 'info',
      '--without-gossip',
      '--without-mingle',
      '--without-heartbeat',
    ];
    if (options.concurrency !== undefined) args.push('-c', String(options.concurrency));
    if (options.prefetchMultiplier !== undefined)
      args.push('--prefetch-multiplier', String(options.prefetchMultiplier));
    const program = new ChildProgram({
      command: PYTHON,
      args,
      cwd: PYTASKS_DIR,
      env: pytasksEnv(options.config, options.env),
      label: `celery worker ${name}`,
    });
    return new CeleryWorker(program, name);
  }

  get pid(): number {
    return this.program.pid;
  }

  output(): string {
    return this.program.output();
  }

  /** Warm shutdown (TERM), KILL after `timeoutMs`. */
  stop(timeoutMs = 20_000) {
    return this.program.stop(timeoutMs);
  }

  kill() {
    return this.program.kill();
  }
}
