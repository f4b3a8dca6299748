import type { Logger } from '@celeriac/logger';

const MAX_RESTORE_INTERVAL_MS = 60_000;
const MIN_RESTORE_INTERVAL_MS = 1_000;

/**
 * Kombu's visibility-timeout restore on a timer: puts back what owners whose lease expired were
 * holding. The next restore comes 1.5 visibility timeouts (1 s to 60 s) after the end of the last
 * one. Not less: a message this worker just restored and took again would otherwise look timed
 * out at the very moment a task as long as the visibility timeout finishes, and run a third time.
 */
export class VisibilityRestore {
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private restoring: Promise<void> | null = null;
  private active = false;

  constructor(
    private readonly restore: () => Promise<number>,
    visibilityTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.intervalMs = Math.min(MAX_RESTORE_INTERVAL_MS, Math.max(MIN_RESTORE_INTERVAL_MS, visibilityTimeoutMs * 1.5));
  }

  /** Restores now (in the background) and then on the timer. */
  start(): void {
    this.active = true;
    this.run();
  }

  private run(): void {
    this.restoring ??= this.restoreOnce().finally(() => {
      this.restoring = null;
      this.schedule();
    });
  }

  private schedule(): void {
    if (!this.active) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run();
    }, this.intervalMs);
    this.timer.unref();
  }

  private async restoreOnce(): Promise<void> {
    try {
      const n = await this.restore();
      if (n > 0) {
        this.logger.info(
          { event: 'worker.restored', count: n },
          'Restored unacked messages past the visibility timeout',
        );
      }
    } catch (error) {
      this.logger.warn({ event: 'worker.restore_failed', err: error }, 'Visibility-timeout restore failed; will retry');
    }
  }

  /** Stops the timer; resolves when a restore under way has ended. Idempotent. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.restoring;
  }
}
