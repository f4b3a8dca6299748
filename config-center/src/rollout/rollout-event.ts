import type { Logger } from '@celeriac/logger';
import type { GateResult } from './evaluate-gates.js';
import type { RolloutEvent, RolloutRecord } from './rollout-record.js';

/**
 * Appends an event to the record's history (at its current wave) and logs it; rollbacks and aborts
 * are left to their callers, which log them with more detail.
 */
export function recordEvent(
  logger: Logger,
  record: RolloutRecord,
  event: RolloutEvent['event'],
  detail: string,
  gates?: GateResult[],
): void {
  const entry: RolloutEvent = { at: new Date().toISOString(), event, wave: record.wave, detail };
  if (gates && gates.length > 0) entry.gates = gates;
  record.events.push(entry);
  if (event !== 'rolled_back' && event !== 'aborted')
    logger.info(
      { event: `center.rollout_${event}`, rollout: record.id, wave: record.wave },
      `rollout ${record.id}: ${event}: ${detail}`,
    );
}
