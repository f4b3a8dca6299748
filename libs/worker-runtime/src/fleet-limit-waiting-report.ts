import type { FleetWaitingReport } from '@celeriac/broker';
import type { Lane } from './fleet-limit-lane.js';
import type { HeldSlot } from './fleet-limit-slot-leases.js';

/** This worker reports its share of the fleet limits at most this often. */
const REPORT_MS = 1_000;

/**
 * This worker's share of each fleet limit (jobs waiting here, jobs running with its slots),
 * sent at most once a second; an empty report is sent once (as none), then no more until
 * something waits or runs again.
 */
export class FleetWaitingReporter {
  private lastReport = 0;
  private lastReportEmpty = true;

  /** `send`: writes this worker's report; null drops it. */
  constructor(private readonly send: (report: FleetWaitingReport | null) => Promise<void>) {}

  /** Sends the report of `lanes` and `slots` when one is due. */
  reportIfDue(now: number, lanes: Iterable<Lane>, slots: Iterable<HeldSlot>): void {
    if (now - this.lastReport < REPORT_MS) return;
    this.lastReport = now;
    const report = waitingReport(lanes, slots);
    const empty = Object.keys(report).length === 0;
    if (empty && this.lastReportEmpty) return;
    this.lastReportEmpty = empty;
    this.send(empty ? null : report).catch(() => undefined);
  }
}

function waitingReport(lanes: Iterable<Lane>, slots: Iterable<HeldSlot>): FleetWaitingReport {
  const out: FleetWaitingReport = {};
  for (const lane of lanes) {
    if (lane.waiting.length === 0) continue;
    entryOf(out, lane.limit.id).waiting += lane.waiting.length;
  }
  for (const slot of slots) entryOf(out, slot.limitId).running++;
  return out;
}

function entryOf(report: FleetWaitingReport, limitId: string): { waiting: number; running: number } {
  let entry = report[limitId];
  if (entry === undefined) {
    entry = { waiting: 0, running: 0 };
    report[limitId] = entry;
  }
  return entry;
}
