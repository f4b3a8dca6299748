import type { GateResult } from './evaluate-gates.js';
import { recordEvent } from './rollout-event.js';
import type { RolloutRecord } from './rollout-record.js';
import type { RolloutStepContext } from './rollout-step-context.js';

/** Writes the layer back to its document before the rollout as a new revision, and stops the rollout. */
export async function rollBackRollout(
  context: RolloutStepContext,
  record: RolloutRecord,
  reason: string,
  gates: GateResult[],
): Promise<void> {
  const { service, logger } = context;
  record.state = 'rolling_back';
  record.last_reason = reason;
  record.last_gates = gates.length > 0 ? gates : record.last_gates;
  context.reindex();
  context.save();
  const base =
    record.layer_base_revision === 0 ? {} : (service.state.revision(record.layer_base_revision)?.document ?? {});
  const message = `rollout ${record.id} of revision ${record.revision} rolled back at wave ${record.wave + 1}: ${reason}`;
  const outcome = await service.write({
    layer: record.layer,
    kind: 'rollback',
    body: base,
    ifMatch: undefined,
    author: { token_id: 'rollout', name: `rollout ${record.id}`, role: 'admin' },
    message,
    ...(record.layer_base_revision > 0 ? { restoredFrom: record.layer_base_revision } : {}),
  });
  record.state = 'rolled_back';
  if (outcome.revision) record.rollback_revision = outcome.revision.revision;
  context.reindex();
  recordEvent(logger, record, 'rolled_back', message, gates);
  logger.warn(
    {
      event: 'center.rollout_rolled_back',
      rollout: record.id,
      revision: record.revision,
      rollback_revision: record.rollback_revision ?? null,
      wave: record.wave,
      gates: gates.map((g) => ({ gate: g.gate, measured: g.measured, bound: g.bound })),
    },
    message,
  );
  context.save();
}

/**
 * Finishes a rollback the center (or the replica driving) stopped in the middle of: writes it now,
 * unless it got into the log before the stop.
 */
export async function finishInterruptedRollBack(context: RolloutStepContext, record: RolloutRecord): Promise<void> {
  if (record.rollback_revision !== undefined) return;
  const written = context.service.state.revisions
    .slice(record.revision)
    .find(
      (r) => r.kind === 'rollback' && r.author.token_id === 'rollout' && r.message.startsWith(`rollout ${record.id} `),
    );
  if (written) {
    record.state = 'rolled_back';
    record.rollback_revision = written.revision;
    recordEvent(context.logger, record, 'rolled_back', written.message, record.last_gates);
    context.reindex();
    context.save();
  } else await rollBackRollout(context, record, record.last_reason, record.last_gates);
}

/** "failure_rate 1 > 0.1; no_crash_loop ..." for a revision message. */
export function describeGates(gates: readonly GateResult[]): string {
  return gates
    .map(
      (gate) => `${gate.gate} measured ${gate.measured ?? 'n/a'} against bound ${gate.bound ?? 'n/a'} (${gate.detail})`,
    )
    .join('; ');
}
