import type { ProgramStatus } from '@celeriac/config-schema';
import type { ControlClient } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { CeleryEventHealth } from './health-celery-events.js';
import { readHealthFile, statsReport } from './health-file.js';
import { HealthWindows } from './health-windows.js';

/** What the collector needs of a probe target (worker-probe.ts `ProbeTarget`). */
export interface HealthTarget {
  program: string;
  name: string;
  kind?: string;
  pid?: number;
  healthFile?: string | undefined;
}

/**
 * Gathers the agent's task health into its windows, driven by the worker probe: celeriac
 * workers' health files, Python Celery workers' task events when they send them, else their
 * `inspect stats` totals; and each program's summary added to its status.
 */
export class HealthCollector {
  /** Task health per program, for /metrics and the status. */
  readonly windows = new HealthWindows();
  private readonly events: CeleryEventHealth;

  constructor(logger: Logger) {
    this.events = new CeleryEventHealth(this.windows, logger);
  }

  /** Reads the health files and the task events gathered since the last call; never rejects. */
  async collect(targets: (HealthTarget & { brokerUrl: string })[], keyPrefix = ''): Promise<void> {
    const now = Date.now();
    await Promise.all(
      targets.map(async (t) => {
        if (t.healthFile === undefined || t.pid === undefined) return;
        const report = await readHealthFile(t.healthFile, t.program, t.pid);
        if (report) this.windows.observe(report, now);
      }),
    );
    await this.events.sync(targets, keyPrefix);
    this.windows.prune(now);
  }

  /**
   * Asks the Python Celery workers among `answering` that send no task events for `inspect
   * stats` (on the probe's control connection, right after their ping) and adds their per-task
   * totals.
   */
  async stats(client: ControlClient, group: HealthTarget[], answering: string[], timeoutMs: number): Promise<void> {
    const python = group.filter(
      (t) => t.kind === 'celery-worker' && answering.includes(t.name) && !this.events.sends(t.name),
    );
    if (python.length === 0) return;
    const destination = python.map((t) => t.name);
    const replies = await client.inspect('stats', {}, { destination, timeoutMs, limit: destination.length });
    const now = Date.now();
    for (const t of python) {
      const report = statsReport(t.program, t.name, replies[t.name]);
      if (report) this.windows.observe(report, now);
    }
  }

  /** Adds each program's health summary to its status (in place), tracking restarts for crash loops. */
  annotate(statuses: Record<string, ProgramStatus>): void {
    const now = Date.now();
    for (const [name, status] of Object.entries(statuses)) {
      this.windows.observeStatus(name, status.state, status.restarts, now);
      status.health = this.windows.summary(name, 60_000, now);
    }
    for (const name of this.windows.programNames()) if (!(name in statuses)) this.windows.forget(name);
  }

  /** Closes the task-event subscriptions. */
  close(): Promise<void> {
    return this.events.close();
  }
}
