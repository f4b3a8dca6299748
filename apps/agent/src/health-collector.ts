import type { ProgramStatus } from '@celeriac/config-schema';
import type { ControlClient } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { CeleryEventHealth, readsTaskEvents } from './health-celery-events.js';
import { readHealthFile, statsReport } from './health-file.js';
import { HealthWindows } from './health-windows.js';

/** What the collector needs of a probe target (worker-probe.ts `ProbeTarget`). */
export interface HealthTarget {
  program: string;
  name: string;
  kind?: string;
  pid?: number;
  healthFile?: string | undefined;
  /** celery-worker only: false when its layers set `worker_send_task_events: false`. */
  sendsTaskEvents?: boolean | undefined;
  /** The program's Celery settings its broker connections read (worker-probe.ts `ProbeTarget`). */
  brokerSettings?: Readonly<Record<string, unknown>> | undefined;
}

/** Why a Python program's outcomes are unavailable (its health summary's `outcomes_reason`). */
export const OUTCOMES_UNAVAILABLE = {
  eventsOff:
    'worker_send_task_events is false in its layers: Celery sends no task events, so succeeded and failed are not measured',
  unreadBroker:
    'the agent reads Celery task events on Redis and RabbitMQ brokers only: succeeded and failed are not measured',
} as const;

/**
 * Gathers the agent's task health into its windows, driven by the worker probe: celeriac
 * workers' health files, Python Celery workers' task events (on unless their layers turn them
 * off: render-celeryconfig.ts), else their `inspect stats` totals; and each program's summary
 * added to its status.
 */
export class HealthCollector {
  /** Task health per program, for /metrics and the status. */
  readonly windows = new HealthWindows();
  private readonly events: CeleryEventHealth;
  /** Python programs whose outcomes cannot be measured, and why, as of the last collect. */
  private readonly unmeasured = new Map<string, string>();

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
    this.noteTaskEvents(targets);
    this.windows.prune(now);
  }

  /**
   * Which Python programs' outcomes go unmeasured: task events off in their layers (unless events
   * arrive all the same, `celery control enable_events`), or a broker whose events are not read.
   */
  private noteTaskEvents(targets: (HealthTarget & { brokerUrl: string })[]): void {
    const python = targets.filter((t) => t.kind === 'celery-worker');
    for (const program of new Set(python.map((t) => t.program))) {
      const own = python.filter((t) => t.program === program);
      let reason: string | undefined;
      if (own.some((t) => this.events.sends(t.name))) reason = undefined;
      else if (own.some((t) => t.sendsTaskEvents === false)) reason = OUTCOMES_UNAVAILABLE.eventsOff;
      else if (own.every((t) => !readsTaskEvents(t.brokerUrl))) reason = OUTCOMES_UNAVAILABLE.unreadBroker;
      if (reason === undefined) this.unmeasured.delete(program);
      else this.unmeasured.set(program, reason);
    }
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

  /**
   * Adds each program's health summary to its status (in place), tracking restarts for crash loops.
   * A Python program whose outcomes go unmeasured (task events off in its layers, a broker neither Redis nor RabbitMQ)
   * is marked `outcomes: 'unavailable'` with `outcomes_reason`, so gates see no data, not health.
   */
  annotate(statuses: Record<string, ProgramStatus>): void {
    const now = Date.now();
    for (const [name, status] of Object.entries(statuses)) {
      this.windows.observeStatus(name, status.state, status.restarts, now);
      const summary = this.windows.summary(name, 60_000, now);
      const reason = this.unmeasured.get(name);
      status.health = reason === undefined ? summary : { ...summary, outcomes: 'unavailable', outcomes_reason: reason };
    }
    for (const name of this.windows.programNames()) if (!(name in statuses)) this.windows.forget(name);
    for (const name of this.unmeasured.keys()) if (!(name in statuses)) this.unmeasured.delete(name);
  }

  /** Closes the task-event subscriptions. */
  close(): Promise<void> {
    return this.events.close();
  }
}
