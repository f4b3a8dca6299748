import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildProgram } from './celery-child-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The built `celeriac` command (needs `npm run build`). */
export const CELERIAC_BIN = path.join(ROOT, 'apps/cli/bin/celeriac.js');

/** The interop tasks module (`test/interop/ts/tasks.ts`), the twin of pytasks.py. */
export const INTEROP_TASKS_MODULE = path.join(ROOT, 'test/interop/ts/tasks.ts');

export interface CeleriacWorkerOptions {
  /** Celery settings; given to the tasks module (CELERIAC_INTEROP_CONFIG) and as `--config`. */
  config: Record<string, unknown>;
  module?: string;
  queues?: string[];
  concurrency?: number;
  /** Node name (`-n`), e.g. `ts1@localhost`. */
  name?: string;
  loglevel?: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

/** A spawned `celeriac worker` program (the real CLI, as the agent runs it) for one test. */
export class CeleriacWorkerProcess {
  private constructor(
    readonly program: ChildProgram,
    readonly name: string,
    private readonly dir: string,
    readonly readyFile: string,
  ) {}

  /** Spawns the worker and resolves once it wrote its ready file (connected and consuming). */
  static async start(options: CeleriacWorkerOptions): Promise<CeleriacWorkerProcess> {
    const worker = CeleriacWorkerProcess.spawn(options);
    try {
      await worker.waitReady(options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      await worker.kill();
      throw err;
    }
    return worker;
  }

  /** Spawns the worker without waiting for readiness. */
  static spawn(options: CeleriacWorkerOptions): CeleriacWorkerProcess {
    const name = options.name ?? `ts-${process.pid}-${Math.random().toString(36).slice(2, 8)}@localhost`;
    const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-worker-'));
    const readyFile = path.join(dir, 'ready.json');
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(options.config));
    const args = [
      CELERIAC_BIN,
      'worker',
      '-A',
      options.module ?? INTEROP_TASKS_MODULE,
      '-Q',
      (options.queues ?? ['celery']).join(','),
      '-c',
      String(options.concurrency ?? 8),
      '-l',
      options.loglevel ?? 'info',
      '-n',
      name,
      '--config',
      configFile,
      '--ready-file',
      readyFile,
    ];
    const program = new ChildProgram({
      command: process.execPath,
      args,
      cwd: ROOT,
      env: { CELERIAC_INTEROP_CONFIG: JSON.stringify(options.config), ...options.env },
      label: `celeriac worker ${name}`,
    });
    return new CeleriacWorkerProcess(program, name, dir, readyFile);
  }

  /** Waits for the ready file; rejects with the worker's output when it exits first or times out. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(this.readyFile)) {
      if (!this.program.running) {
        throw new Error(`${this.program.options.label} exited before it was ready; output:\n${this.program.tail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.program.options.label} not ready within ${timeoutMs} ms; output:\n${this.program.tail()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  get pid(): number {
    return this.program.pid;
  }

  /** The owner id under which the worker records held deliveries (`<name>:<pid>`). */
  get ownerId(): string {
    return `${this.name}:${this.pid}`;
  }

  output(): string {
    return this.program.output();
  }

  /** Warm shutdown (TERM), KILL after `timeoutMs`; removes the temporary files. */
  async stop(timeoutMs = 20_000) {
    const exit = await this.program.stop(timeoutMs);
    rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }

  /** SIGKILL, as a crash would. */
  async kill() {
    const exit = await this.program.kill();
    rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }
}
