import { writeFileSync } from 'node:fs';
import type { SerializedError } from 'vitest';
import type { Reporter, TestCase, TestModule, TestRunEndReason } from 'vitest/node';

/** Where the reporter keeps the counts so far and the test files still running, for `run-tests.mjs` to name them if the run hangs. */
export const PROGRESS_FILE = '.vitest-progress.json';

const SLOW_FILE_MS = 5 * 60_000;

/**
 * Tracks which test files are running and which test each is at. A file running longer than five
 * minutes is named on stderr every minute, so a hang shows in the log of a run that is cut off.
 */
export default class ProgressReporter implements Reporter {
  private readonly running = new Map<string, { startedAt: number; test: string }>();
  private passed = 0;
  private failed = 0;
  /** Errors vitest caught outside any test (an unhandled rejection, say): they fail the run with every test passed. */
  private unhandled: string[] = [];
  private reason: TestRunEndReason | null = null;
  private readonly timer = setInterval(() => this.warnSlow(), 60_000).unref();

  onTestModuleStart(module: TestModule): void {
    this.running.set(module.relativeModuleId, { startedAt: Date.now(), test: '(loading)' });
    this.save();
  }

  onTestCaseReady(test: TestCase): void {
    const entry = this.running.get(test.module.relativeModuleId);
    if (entry) entry.test = test.fullName;
    this.save();
  }

  onTestCaseResult(test: TestCase): void {
    const state = test.result().state;
    if (state === 'passed') this.passed++;
    else if (state === 'failed') this.failed++;
  }

  onTestModuleEnd(module: TestModule): void {
    this.running.delete(module.relativeModuleId);
    this.save();
  }

  onTestRunEnd(
    _modules: ReadonlyArray<TestModule>,
    errors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    clearInterval(this.timer);
    this.unhandled = errors.map(describeError);
    this.reason = reason;
    this.save();
  }

  private warnSlow(): void {
    const now = Date.now();
    for (const [file, { startedAt, test }] of this.running) {
      const ms = now - startedAt;
      if (ms >= SLOW_FILE_MS)
        process.stderr.write(`[progress] ${file} still running after ${Math.round(ms / 60_000)} min, at: ${test}\n`);
    }
  }

  private save(): void {
    const files = [...this.running].map(([file, { startedAt, test }]) => ({ file, startedAt, test }));
    const { passed, failed, unhandled, reason } = this;
    writeFileSync(PROGRESS_FILE, JSON.stringify({ passed, failed, running: files, unhandled, reason }));
  }
}

/** One line for an error outside the tests: its name, message and where it was thrown. */
function describeError(error: SerializedError): string {
  const where =
    error.stack
      ?.split('\n')
      .find((line) => line.trim().startsWith('at '))
      ?.trim() ?? '';
  return `${error.name ?? 'Error'}: ${String(error.message ?? '').slice(0, 300)} ${where}`.trim();
}
