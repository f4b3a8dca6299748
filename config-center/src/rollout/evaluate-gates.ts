import type { NodeStatus, ProgramHealth, RolloutGates } from '@celeriac/config-schema';

/** What a gate looks at of one node: whether it applied the rollout's revision, and its programs' health. */
export interface NodeObservation {
  node: string;
  apply: 'ok' | 'failed' | 'pending';
  /** Programs in a crash loop (backoff, FATAL, or repeated crash restarts). */
  crash_looping: string[];
  health: ProgramHealth[];
}

/** Names of the gates, in the order they are evaluated and shown. */
export const GATE_NAMES = [
  'apply_ok',
  'no_crash_loop',
  'failure_rate',
  'runtime_p95_s',
  'queue_wait_p95_s',
  'throughput',
] as const;
export type GateName = (typeof GATE_NAMES)[number];

/** A verdict on a gate or a wave. */
export type GateVerdict = 'pass' | 'fail' | 'pending';

/** One gate's verdict with what was measured and the bound it was held to (null when not numeric). */
export interface GateResult {
  gate: GateName;
  verdict: GateVerdict;
  measured: number | null;
  bound: number | null;
  detail: string;
}

/** All gates of a wave, and their combined verdict: fail if any fails, else pending if any is pending. */
export interface WaveEvaluation {
  verdict: GateVerdict;
  gates: GateResult[];
}

/**
 * Reads a node's status against the revision the rollout served it: applied (`ok`), refused or
 * failed (`failed`), or not yet (`pending`, also when the node never reported). Pure.
 */
export function observeNode(node: string, status: NodeStatus | undefined, revision: number): NodeObservation {
  if (status === undefined) return { node, apply: 'pending', crash_looping: [], health: [] };
  const attempted = status.attempted_revision ?? status.applied_revision ?? -1;
  let apply: NodeObservation['apply'] = 'pending';
  if ((status.applied_revision ?? -1) >= revision && status.apply_result === 'ok') apply = 'ok';
  else if (attempted >= revision && (status.apply_result === 'failed' || status.apply_result === 'invalid'))
    apply = 'failed';
  const crashLooping: string[] = [];
  const health: ProgramHealth[] = [];
  for (const [name, program] of Object.entries(status.programs)) {
    if (program.health?.crash_loop || program.state === 'fatal' || program.state === 'backoff') crashLooping.push(name);
    if (program.health !== undefined) health.push(program.health);
  }
  return { node, apply, crash_looping: crashLooping, health };
}

/** The figures gates compare, summed or taken at their worst over a set of nodes. */
export interface HealthAggregate {
  nodes: number;
  ended: number;
  failure_ratio: number | null;
  runtime_p95_s: number | null;
  queue_wait_p95_s: number | null;
  /** Succeeded tasks per second per node. */
  throughput: number | null;
  /** Programs left out because their outcomes are not measured (`health.outcomes: 'unavailable'`). */
  unmeasured: number;
}

function worst(values: (number | null)[]): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length === 0 ? null : Math.max(...known);
}

const outcomesMeasured = (h: ProgramHealth): boolean => h.outcomes !== 'unavailable';

/**
 * Failure ratio over all tasks ended, worst p95s, and succeeded/s per node over `nodes`; programs
 * whose outcomes are unavailable (a Python worker without task events) count as no data, not as
 * zero failures. Pure.
 */
export function aggregateHealth(nodes: readonly NodeObservation[]): HealthAggregate {
  const all = nodes.flatMap((node) => node.health);
  const health = all.filter(outcomesMeasured);
  const failed = health.reduce((sum, h) => sum + h.counts.failed, 0);
  const ended = failed + health.reduce((sum, h) => sum + h.counts.succeeded, 0);
  const reporting = nodes.filter((node) => node.health.some(outcomesMeasured)).length;
  return {
    unmeasured: all.length - health.length,
    nodes: nodes.length,
    ended,
    failure_ratio: ended === 0 ? null : failed / ended,
    runtime_p95_s: worst(health.map((h) => h.runtime_p95_s)),
    queue_wait_p95_s: worst(health.map((h) => h.queue_wait_p95_s)),
    throughput: reporting === 0 ? null : health.reduce((sum, h) => sum + h.rates.succeeded, 0) / reporting,
  };
}

const round = (value: number): number => Math.round(value * 1e6) / 1e6;

function upperGate(gate: GateName, measured: number | null, bounds: (number | null)[], unit: string): GateResult {
  const known = bounds.filter((bound): bound is number => bound !== null);
  if (known.length === 0)
    return { gate, verdict: 'pass', measured, bound: null, detail: 'no bound (no baseline data)' };
  const bound = round(Math.min(...known));
  if (measured === null) return { gate, verdict: 'pending', measured, bound, detail: 'no tasks measured yet' };
  const ok = measured <= bound;
  return {
    gate,
    verdict: ok ? 'pass' : 'fail',
    measured: round(measured),
    bound,
    detail: `${round(measured)}${unit} ${ok ? '<=' : '>'} ${bound}${unit}`,
  };
}

/** Says in a health gate's detail how many of the wave's programs it could not judge (no outcomes measured). */
function withUnmeasured(result: GateResult, unmeasured: number): GateResult {
  if (unmeasured === 0) return result;
  const note = `${unmeasured} program(s) report no outcomes and are not counted (see their health.outcomes_reason)`;
  return { ...result, detail: `${result.detail}; ${note}` };
}

/**
 * Holds a wave's observations to the gates, against absolute bounds or the baseline (the nodes
 * not yet changed). Health gates stay pending until every node of the wave applied the change,
 * so they judge the new config only. Pure.
 */
export function evaluateGates(
  gates: RolloutGates,
  wave: readonly NodeObservation[],
  baseline: readonly NodeObservation[],
): WaveEvaluation {
  const results: GateResult[] = [];
  const failedApply = wave.filter((node) => node.apply === 'failed').map((node) => node.node);
  const pendingApply = wave.filter((node) => node.apply === 'pending').map((node) => node.node);
  const applied = failedApply.length === 0 && pendingApply.length === 0;
  if (gates.apply_ok) {
    results.push({
      gate: 'apply_ok',
      verdict: failedApply.length > 0 ? 'fail' : applied ? 'pass' : 'pending',
      measured: failedApply.length,
      bound: 0,
      detail:
        failedApply.length > 0
          ? `apply failed on ${failedApply.join(', ')}`
          : applied
            ? `applied on ${wave.length} node(s)`
            : `waiting for ${pendingApply.join(', ')}`,
    });
  }
  if (gates.no_crash_loop) {
    const looping = wave.flatMap((node) => node.crash_looping.map((program) => `${node.node}/${program}`));
    results.push({
      gate: 'no_crash_loop',
      verdict: looping.length > 0 ? 'fail' : applied ? 'pass' : 'pending',
      measured: looping.length,
      bound: 0,
      detail: looping.length > 0 ? `crash loop: ${looping.join(', ')}` : 'no program in a crash loop',
    });
  }
  const now = aggregateHealth(wave);
  const base = aggregateHealth(baseline);
  const healthResults: GateResult[] = [];
  if (gates.failure_rate) {
    const { max, max_increase, min_tasks } = gates.failure_rate;
    const relative = max_increase === undefined ? null : (base.failure_ratio ?? 0) + max_increase;
    const result = upperGate('failure_rate', now.failure_ratio, [max ?? null, relative], '');
    if (result && result.verdict !== 'pending' && result.bound !== null && now.ended < min_tasks)
      healthResults.push({ ...result, verdict: 'pending', detail: `${now.ended} of ${min_tasks} tasks ended` });
    else if (result) healthResults.push(result);
  }
  for (const gate of ['runtime_p95_s', 'queue_wait_p95_s'] as const) {
    const bound = gates[gate];
    if (!bound) continue;
    const relative =
      bound.max_ratio === undefined || base[gate] === null ? null : (base[gate] as number) * bound.max_ratio;
    const result = upperGate(gate, now[gate], [bound.max ?? null, relative], 's');
    if (result) healthResults.push(result);
  }
  if (gates.throughput) {
    const { min, min_ratio } = gates.throughput;
    const relative = min_ratio === undefined || !base.throughput ? null : base.throughput * min_ratio;
    const known = [min ?? null, relative].filter((bound): bound is number => bound !== null);
    if (known.length === 0)
      healthResults.push({
        gate: 'throughput',
        verdict: 'pass',
        measured: now.throughput,
        bound: null,
        detail: 'no bound (no baseline data)',
      });
    else {
      const bound = round(Math.max(...known));
      const measured = now.throughput;
      const verdict: GateVerdict = measured === null ? 'pending' : measured >= bound ? 'pass' : 'fail';
      healthResults.push({
        gate: 'throughput',
        verdict,
        measured: measured === null ? null : round(measured),
        bound,
        detail:
          measured === null
            ? 'no tasks measured yet'
            : `${round(measured)}/s per node ${verdict === 'pass' ? '>=' : '<'} ${bound}/s`,
      });
    }
  }
  for (const result of healthResults)
    results.push(
      applied
        ? withUnmeasured(result, now.unmeasured)
        : { ...result, verdict: 'pending', detail: 'waiting for the wave to apply' },
    );
  const verdict: GateVerdict = results.some((r) => r.verdict === 'fail')
    ? 'fail'
    : results.some((r) => r.verdict === 'pending')
      ? 'pending'
      : 'pass';
  return { verdict, gates: results };
}
