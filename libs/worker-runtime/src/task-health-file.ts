import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { writeFileAtomic } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { HEALTH_BUCKETS_S, type TaskHealth, type TaskHealthCounts, taskHealth } from './task-health.js';

/** Version of the health file's layout. */
export const HEALTH_FILE_VERSION = 1;

/** What the health file holds: cumulative task figures since the process started, and its vitals now. */
export interface HealthFileContent {
  v: number;
  pid: number;
  name: string;
  started_at: string;
  written_at: string;
  buckets_s: readonly number[];
  rss_bytes: number;
  /** Event-loop delay over the last interval (perf_hooks' histogram, ms). */
  loop_lag_ms: { mean: number; p99: number; max: number };
  tasks: Record<string, TaskHealthCounts>;
}

/**
 * The health file that goes with a ready file: `<dir>/ready/1.json` → `<dir>/ready/1.health.json`.
 * The agent derives the same path (apps/agent/src/health-file.ts), so nothing new is passed.
 */
export function healthFileFor(readyFile: string | null): string | null {
  if (process.env.CELERIAC_HEALTH_FILE) return process.env.CELERIAC_HEALTH_FILE;
  if (readyFile === null) return null;
  return readyFile.endsWith('.json') ? `${readyFile.slice(0, -5)}.health.json` : `${readyFile}.health.json`;
}

/**
 * Publishes the process's task health to its supervisor by rewriting a small JSON file atomically
 * (temp file + rename) every second.
 *
 * Why a file: the agent spawns workers detached with stdin ignored and no IPC channel, and they
 * outlive an agent restart (leftovers.ts adopts them), which an IPC pipe would not; the pidbox
 * (`inspect stats`) costs a broker round trip per worker and goes dark exactly when the broker
 * is the problem. A rename is one syscall pair a second off the hot path, readable by any agent
 * at any time, and a reader never sees half a file. Counters are cumulative, so a missed read
 * loses nothing: the agent takes differences.
 */
export class TaskHealthFile {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly lag: IntervalHistogram;
  private readonly startedAt = new Date().toISOString();
  private warned = false;

  constructor(
    private readonly o: { file: string; name: string; logger: Logger; intervalMs?: number; health?: TaskHealth },
  ) {
    this.lag = monitorEventLoopDelay({ resolution: 20 });
  }

  /** Writes now, then every interval. */
  start(): void {
    if (this.timer) return;
    this.lag.enable();
    this.tick();
    this.timer = setInterval(() => this.tick(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** The content written now. */
  content(): HealthFileContent {
    const lag = this.lag;
    const ns = (v: number) => (Number.isFinite(v) ? Math.round(v / 1e4) / 100 : 0);
    const content: HealthFileContent = {
      v: HEALTH_FILE_VERSION,
      pid: process.pid,
      name: this.o.name,
      started_at: this.startedAt,
      written_at: new Date().toISOString(),
      buckets_s: HEALTH_BUCKETS_S,
      rss_bytes: process.memoryUsage.rss(),
      loop_lag_ms: { mean: ns(lag.mean), p99: ns(lag.percentile(99)), max: ns(lag.max) },
      tasks: (this.o.health ?? taskHealth).snapshot(),
    };
    lag.reset();
    return content;
  }

  private tick(): void {
    if (this.writing) return;
    const body = `${JSON.stringify(this.content())}\n`;
    this.writing = writeFileAtomic(this.o.file, body, { durable: false, createDir: true, mode: 0o644 })
      .catch((err: unknown) => {
        if (this.warned) return;
        this.warned = true;
        this.o.logger.warn(
          { event: 'worker.health_file_failed', file: this.o.file, err },
          'could not write the health file; the agent shows no task health for this worker',
        );
      })
      .finally(() => {
        this.writing = undefined;
      });
  }

  /** Stops writing, after a last write so the final counts are there. Idempotent. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    this.tick();
    await this.writing;
    this.lag.disable();
  }
}

/** Starts the health file that goes with `readyFile` (or `CELERIAC_HEALTH_FILE`); null when there is neither. */
export function startTaskHealthFile(readyFile: string | null, name: string, logger: Logger): TaskHealthFile | null {
  const file = healthFileFor(readyFile);
  if (file === null) return null;
  const writer = new TaskHealthFile({ file, name, logger });
  writer.start();
  return writer;
}
