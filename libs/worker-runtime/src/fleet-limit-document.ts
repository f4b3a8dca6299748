import type { FleetLimit, FleetLimitDocument } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';

/** The broker call the document reader makes (part of `FleetLimiterTarget`). */
export interface FleetLimitDocumentTarget {
  readDocument(): Promise<FleetLimitDocument | null>;
}

/** What the document reader works with. */
export interface FleetLimitDocumentOptions {
  target: FleetLimitDocumentTarget;
  logger: Logger;
  /** The limits in force while Redis has no document. */
  localLimits: readonly FleetLimit[];
  /** The limiter is closed: no more reads. */
  isClosed(): boolean;
  /** The limits changed (or were read for the first time). */
  onLimits(limits: readonly FleetLimit[]): void;
}

/** The document is re-read this often besides the announcements (a missed message). */
const POLL_DOCUMENT_MS = 5_000;

/**
 * The live fleet limit document: read on each announcement, reconnect or poll, one read at a
 * time (a read asked for meanwhile follows the current one); a change is passed on and logged.
 */
export class FleetLimitDocumentReader {
  private readonly o: FleetLimitDocumentOptions;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private documentKey = '';
  private lastPoll = 0;

  constructor(options: FleetLimitDocumentOptions) {
    this.o = options;
  }

  /** The poll is due (no read started for a while). */
  pollDue(now: number): boolean {
    return now - this.lastPoll >= POLL_DOCUMENT_MS;
  }

  /** Re-reads the document (an announcement, a reconnect or the poll), one read at a time. */
  reload(): Promise<void> {
    if (this.o.isClosed()) return Promise.resolve();
    if (this.reloading !== null) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.lastPoll = Date.now();
    this.reloading = this.o.target
      .readDocument()
      .then(
        (doc) => this.apply(doc),
        (error: unknown) => {
          this.o.logger.warn(
            { event: 'worker.fleet_limit_failed', operation: 'read', err: error },
            'Could not read the fleet limit document; the limits in force stay',
          );
        },
      )
      .finally(() => {
        this.reloading = null;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  private apply(doc: FleetLimitDocument | null): void {
    const limits = doc === null ? this.o.localLimits : doc.limits;
    const key = JSON.stringify(limits);
    if (key === this.documentKey) return;
    const first = this.documentKey === '';
    this.documentKey = key;
    this.o.onLimits(limits);
    this.o.logger.info(
      {
        event: 'worker.fleet_limits_loaded',
        source: doc === null ? 'settings' : doc.source,
        revision: doc?.revision ?? null,
        limits: limits.map((l) => describeLimit(l)),
      },
      `${first ? 'Fleet limits in force' : 'Fleet limits changed'}: ${limits.length === 0 ? 'none' : limits.map((l) => describeLimit(l)).join(', ')}`,
    );
  }
}

/** `task:tasks.add 20/s ×2 per tenant_id`. */
function describeLimit(limit: FleetLimit): string {
  const parts = [limit.id];
  if (limit.rate !== null) parts.push(String(limit.rate));
  if (limit.concurrency !== null) parts.push(`concurrency ${limit.concurrency}`);
  if (limit.key !== null) parts.push(`per ${limit.key}`);
  return parts.join(' ');
}
