import type { NodeStatus } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { StatusSender } from './center-client.js';
import { CenterRejectedError } from './errors.js';

/** Options of the status reporter. */
export interface StatusReporterOptions {
  client: StatusSender;
  logger: Logger;
  /** Builds the current status body. */
  snapshot(): NodeStatus;
  /** A status is sent at least this often even when nothing changed. */
  heartbeatMs?: number;
  /** Changes within this window are sent as one report. */
  coalesceMs?: number;
  /**
   * Told after each report whether the center could be reached (a refusal still means reachable).
   * The long-poll learns of a silent partition only at its timeout; a heartbeat learns within one period.
   */
  onReachability?(reachable: boolean, error?: Error): void;
}

/**
 * Sends the node status to the center after every change (coalesced over a few milliseconds)
 * and as a heartbeat. One request at a time; the next change or heartbeat sends the then current
 * status, so the center always ends up with the latest. Every report the center refuses (4xx:
 * a wrong token, a body it does not accept) is logged with its HTTP status until one is accepted:
 * such a node looks stale on the center, and this log is where the reason is. An unreachable
 * center is logged once per outage (the long-poll logs each retry).
 */
export class StatusReporter {
  private heartbeat: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  /** Reports that failed since the last accepted one. */
  private failures = 0;
  private readonly abort = new AbortController();
  /** Count of status reports the center accepted. */
  sent = 0;

  constructor(private readonly options: StatusReporterOptions) {}

  /** The heartbeat period, announced to the center in every report (`heartbeat_ms`). */
  get heartbeatMs(): number {
    return Math.max(1, Math.round(this.options.heartbeatMs ?? 5000));
  }

  start(): void {
    if (this.heartbeat || this.closed) return;
    this.heartbeat = setInterval(() => this.notify(), this.heartbeatMs);
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
        this.options.logger.debug({ event: 'agent.final_status_failed', err: error }, 'final status report failed');
      }
    }
    this.abort.abort();
  }

  private async send(): Promise<void> {
    const { logger } = this.options;
    try {
      await this.options.client.postStatus(this.options.snapshot(), 5000, this.abort.signal);
    } catch (error) {
      if (this.abort.signal.aborted) return;
      this.failures += 1;
      if (error instanceof CenterRejectedError) {
        logger.error(
          {
            event: 'agent.status_refused',
            http_status: error.status,
            code: error.code,
            attempt: this.failures,
            err: error,
          },
          `the center refused a status report with ${error.status}; the node shows stale until one is accepted`,
        );
      } else {
        if (this.failures === 1) {
          logger.warn({ event: 'agent.status_failed', err: error }, 'status report failed; retrying with the next one');
        }
        this.options.onReachability?.(false, error as Error);
      }
      return;
    }
    this.options.onReachability?.(true);
    this.sent += 1;
    if (this.failures > 0) {
      logger.info(
        { event: 'agent.status_accepted', failed_reports: this.failures },
        'status reports reach the center again',
      );
    }
    this.failures = 0;
  }
}
