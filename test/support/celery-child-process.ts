import { type ChildProcess, spawn } from 'node:child_process';

/** How a child program ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildProgramOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Label used in error messages, e.g. `celery worker`. */
  label: string;
}

/**
 * A spawned program whose stdout and stderr are collected, so a test can wait for a line
 * (readiness) and show the output when something goes wrong.
 */
export class ChildProgram {
  readonly child: ChildProcess;
  readonly exited: Promise<ChildExit>;
  private text = '';
  private readonly listeners = new Set<() => void>();

  constructor(readonly options: ChildProgramOptions) {
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      if (this.text.length > 2_000_000) this.text = this.text.slice(-1_000_000);
      for (const listener of this.listeners) listener();
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        for (const listener of this.listeners) listener();
        resolve({ code, signal });
      });
      this.child.once('error', (err) => {
        this.text += `\nspawn error: ${err.message}\n`;
        resolve({ code: null, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Everything the program printed so far (stdout and stderr interleaved). */
  output(): string {
    return this.text;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the output matches `pattern`; rejects when the program exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pattern.test(this.text)) {
          done();
          resolve();
        } else if (!this.running) {
          done();
          reject(
            new Error(
              `${this.options.label} exited before printing ${pattern} (exit ${this.child.exitCode ?? this.child.signalCode}); output:\n${this.tail()}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`${this.options.label} did not print ${pattern} within ${timeoutMs} ms; output:\n${this.tail()}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends `signal` and does not wait. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends TERM, waits up to `timeoutMs`, then KILLs; resolves with how the program ended. */
  async stop(timeoutMs = 20_000): Promise<ChildExit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      this.child.kill('SIGKILL');
      return this.exited;
    }
    return first;
  }

  /** Sends KILL and waits until the program is gone. */
  async kill(): Promise<ChildExit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** The last lines of output, for error messages. */
  tail(lines = 40): string {
    return this.text.split('\n').slice(-lines).join('\n');
  }
}
