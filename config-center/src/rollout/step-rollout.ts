import type { NodeStatus } from '@celeriac/config-schema';
import { decideStep } from './decide-step.js';
import { evaluateGates, observeNode } from './evaluate-gates.js';
import { programCount } from './program-count.js';
import { admitRestarts, stillRestarting } from './restart-budget.js';
import { describeGates, finishInterruptedRollBack, rollBackRollout } from './roll-back-rollout.js';
import { recordEvent } from './rollout-event.js';
import type { RolloutRecord } from './rollout-record.js';
import type { RolloutStepContext } from './rollout-step-context.js';

/**
 * One evaluation of the active rollout on the driving replica: serves the wave's nodes as the
 * restart budget admits them, holds the wave to its gates (`evaluateGates`, `decideStep`), and then
 * holds, promotes to the next wave, finishes, or rolls the changed nodes back. A rollout left
 * rolling back by a stop has its rollback finished instead.
 */
export async function stepRollout(context: RolloutStepContext, record: RolloutRecord): Promise<void> {
  if (record.state === 'rolling_back') {
    await finishInterruptedRollBack(context, record);
    return;
  }
  const { service, logger } = context;
  const statuses = await service.statuses();
  const statusOf = (node: string) => statuses.get(node)?.status as NodeStatus | undefined;
  const wave = record.waves[record.wave];
  if (!wave) {
    finish(context, record);
    return;
  }
  const servedSet = new Set(record.served);
  let waiting = wave.nodes.filter((node) => !servedSet.has(node));
  if (record.state === 'running' || record.promote_requested) {
    const inFlight = record.served
      .filter(
        (node) =>
          observeNode(node, statusOf(node), record.revision).apply === 'pending' ||
          stillRestarting(statusOf(node), service.state.view(node).config),
      )
      .reduce((sum, node) => sum + (record.restarts[node] ?? 1), 0);
    const fleetPrograms = service
      .knownNodes()
      .reduce((sum, node) => sum + programCount(service.state.view(node).config), 0);
    const admission = admitRestarts(
      record.policy.restart_budget,
      fleetPrograms,
      inFlight,
      waiting.map((node) => ({ node, restarts: record.restarts[node] ?? 1 })),
    );
    for (const node of admission.admitted) record.served.push(node);
    // Wakes the admitted nodes' long-polls: they are served the revision now.
    context.reindex();
    if (admission.admitted.length > 0) {
      logger.info(
        { event: 'center.rollout_served', rollout: record.id, wave: record.wave, nodes: admission.admitted },
        `rollout ${record.id}: revision ${record.revision} served to ${admission.admitted.join(', ')}`,
      );
      context.save();
    }
    waiting = admission.waiting;
  }
  const served = new Set(record.served);
  const evaluation = evaluateGates(
    record.policy.gates,
    wave.nodes.map((node) => observeNode(node, served.has(node) ? statusOf(node) : undefined, record.revision)),
    service
      .knownNodes()
      .filter((node) => !served.has(node))
      .map((node) => observeNode(node, statusOf(node), Number.MAX_SAFE_INTEGER)),
  );
  const now = Date.now();
  const decision = decideStep({
    now_ms: now,
    wave_started_ms: Date.parse(record.wave_started_at),
    passing_since_ms: record.passing_since === null ? null : Date.parse(record.passing_since),
    soak_ms: wave.soak_ms,
    progress_deadline_ms: record.policy.progress_deadline,
    verdict: evaluation.verdict,
    last_wave: record.wave === record.waves.length - 1,
    paused: record.state === 'paused',
    promote_now: record.promote_requested,
    waiting_for_budget: waiting.length,
  });
  const changed = record.last_verdict !== evaluation.verdict || record.last_reason !== decision.reason;
  record.last_verdict = evaluation.verdict;
  record.last_gates = evaluation.gates;
  record.last_reason = decision.reason;
  record.passing_since = decision.passing_since_ms === null ? null : new Date(decision.passing_since_ms).toISOString();
  switch (decision.action) {
    case 'hold':
      if (changed) context.save();
      return;
    case 'promote':
      recordEvent(
        logger,
        record,
        'promoted',
        `wave ${record.wave + 1} → ${record.wave + 2}: ${decision.reason}`,
        evaluation.gates,
      );
      record.wave++;
      record.wave_started_at = new Date(now).toISOString();
      record.passing_since = null;
      record.promote_requested = false;
      context.save();
      return;
    case 'done':
      recordEvent(logger, record, 'succeeded', decision.reason, evaluation.gates);
      finish(context, record);
      return;
    case 'rollback': {
      // A breach names the failed gates; a wave past its deadline the ones it still waits for.
      const failed = evaluation.gates.filter((gate) => gate.verdict === 'fail');
      const decisive = failed.length > 0 ? failed : evaluation.gates.filter((gate) => gate.verdict === 'pending');
      await rollBackRollout(
        context,
        record,
        `${decision.reason}: ${describeGates(decisive) || decision.reason}`,
        decisive,
      );
      return;
    }
  }
}

function finish(context: RolloutStepContext, record: RolloutRecord): void {
  record.state = 'succeeded';
  record.promote_requested = false;
  context.reindex();
  context.logger.info(
    { event: 'center.rollout_succeeded', rollout: record.id, revision: record.revision },
    `rollout ${record.id}: revision ${record.revision} is on every node`,
  );
  context.save();
}
