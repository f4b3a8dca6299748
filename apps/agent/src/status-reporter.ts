import type { Logger } from '@celeriac/logger';
import type { CenterClient } from './center-client.js';
import type { NodeStatus } from './types.js';

/** Options of the status reporter. */
export interface StatusReporterOptions {
  client: CenterClient;
  logger: Logger;
  /** Builds the current status body. */
  snapshot(): NodeStatus;
  /** A status is sent at least this often even when nothing changed. */
  heartbeatMs?: number;
  /** Changes within this window are sent as one report. */
  coalesceMs?: number;
}

/**
 * Sends the node status to the center after every change (coalesced over a few milliseconds)
 * and as a heartbeat. One request at a time; a failed send is logged and the next change or
 * heartbeat sends the then current status, so the center always ends up with the latest.
 */
export class StatusReporter {
  private heartbeat: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private failing = false;
  private readonly abort = new AbortController();
  /** Count of status reports the center accepted. */
  sent = 0;

  constructor(private readonly options: StatusReporterOptions) {}

  start(): void {
    if (this.heartbeat || this.closed) return;
    this.heartbeat = setInterval(() => this.notify(), this.options.heartbeatMs ?? 5000);
    this.notify();
  }

  /** Asks for a report soon. */
  notify(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.pending || this.inFlight) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.flush();
    }, this.options.coalesceMs ?? 20);
  }

  /** Sends the current status now and waits for the answer (or the failure). */
  async flush(): Promise<void> {
    if (this.inFlight) {
      await this.inFlight;
      if (!this.dirty) return;
    }
    this.dirty = false;
    this.inFlight = this.send().finally(() => {
      this.inFlight = undefined;
      if (this.dirty && !this.closed) this.notify();
    });
    await this.inFlight;
  }

  /** Stops the heartbeat; with `finalReport` a last status is sent first. Idempotent. */
  async close(finalReport?: NodeStatus): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    await this.inFlight;
    if (finalReport) {
      try {
        await this.options.client.postStatus(finalReport, 2000);
      } catch (error) {
        this.options.logger.debug({ err: (error as Error).message }, 'final status report failed');
      }
    }
    this.abort.abort();
  }

  private async send(): Promise<void> {
    try {
      await this.options.client.postStatus(this.options.snapshot(), 5000, this.abort.signal);
      this.sent += 1;
      if (this.failing) this.options.logger.info('status reports reach the center again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.logger.warn({ err: (error as Error).message }, 'status report failed');
      this.failing = true;
    }
  }
}
