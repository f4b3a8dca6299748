import type { NodeStatus, ProgramHealth, RolloutPolicyInput, SelectableNode } from '@celeriac/config-schema';
import { rolloutPolicySchema } from '@celeriac/config-schema';
import { describe, expect, it } from 'vitest';
import { decideStep, type StepInput } from '../src/rollout/decide-step.js';
import { aggregateHealth, evaluateGates, type NodeObservation, observeNode } from '../src/rollout/evaluate-gates.js';
import { planWaves } from '../src/rollout/plan-waves.js';
import { admitRestarts, restartLimit, stillRestarting } from '../src/rollout/restart-budget.js';
import { programHealth } from './support/program-health.js';

const policy = (input: RolloutPolicyInput) => rolloutPolicySchema.parse(input);

const fleet: SelectableNode[] = ['n5', 'n1', 'n3', 'n2', 'n4', 'n6', 'n7', 'n8'].map((node, i) => ({
  node,
  groups: [],
  labels: i % 2 === 0 ? { zone: 'eu' } : { zone: 'us' },
}));

describe('rollout policy schema', () => {
  it('fills defaults and reads durations', () => {
    const parsed = policy({ waves: [{ nodes: 1, soak: '10s' }, { rest: true }] });
    expect(parsed.soak).toBe(60_000);
    expect(parsed.progress_deadline).toBe(600_000);
    expect(parsed.waves[0]).toEqual({ nodes: 1, soak: 10_000 });
    expect(parsed.gates).toEqual({ apply_ok: true, no_crash_loop: true });
  });
  it.each([
    [{ waves: [] }, 'waves'],
    [{ waves: [{ nodes: 0 }] }, 'waves'],
    [{ waves: [{ percent: 150 }] }, 'waves'],
    [{ waves: [{ selector: 'zone=' }] }, 'waves'],
    [{ waves: [{ rest: true }], soak: 'soon' }, 'soak'],
    [{ waves: [{ rest: true }], restart_budget: {} }, 'restart_budget'],
    [{ waves: [{ rest: true }], gates: { failure_rate: { max: 2 } } }, 'gates'],
    [{ waves: [{ rest: true }], typo: 1 }, ''],
  ])('rejects %j', (input, path) => {
    const result = rolloutPolicySchema.safeParse(input);
    expect(result.success).toBe(false);
    if (!result.success && path !== '') expect(result.error.issues[0]?.path[0]).toBe(path);
  });
});

describe('planWaves', () => {
  it.each<[string, RolloutPolicyInput, string[][]]>([
    [
      'count, percent, rest',
      { waves: [{ nodes: 1 }, { percent: 25 }, { rest: true }] },
      [['n1'], ['n2', 'n3'], ['n4', 'n5', 'n6', 'n7', 'n8']],
    ],
    [
      'selector then rest',
      { waves: [{ selector: 'zone=us' }, { rest: true }] },
      [
        ['n1', 'n2', 'n6', 'n8'],
        ['n3', 'n4', 'n5', 'n7'],
      ],
    ],
    [
      'leftover nodes form a last wave',
      { waves: [{ nodes: 2 }] },
      [
        ['n1', 'n2'],
        ['n3', 'n4', 'n5', 'n6', 'n7', 'n8'],
      ],
    ],
    [
      'empty waves are dropped',
      { waves: [{ selector: 'zone=mars' }, { nodes: 100 }] },
      [['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8']],
    ],
    [
      'a tiny percentage takes one node',
      { waves: [{ percent: 1 }, { rest: true }] },
      [['n1'], ['n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8']],
    ],
  ])('%s', (_name, input, expected) => {
    expect(planWaves(policy(input), fleet).map((wave) => wave.nodes)).toEqual(expected);
  });
  it('gives each wave its soak and the implicit wave the default', () => {
    const plan = planWaves(policy({ soak: '30s', waves: [{ nodes: 1, soak: '5s' }] }), fleet);
    expect(plan.map((w) => [w.policy_index, w.soak_ms])).toEqual([
      [0, 5000],
      [1, 30_000],
    ]);
  });
  it('plans nothing for no nodes', () => {
    expect(planWaves(policy({ waves: [{ rest: true }] }), [])).toEqual([]);
  });
});

/** A health summary with `p95` as every runtime and queue-wait percentile. */
function health(
  succeeded: number,
  failed: number,
  p95: number | null = 0.1,
  extra: Partial<ProgramHealth> = {},
): ProgramHealth {
  return programHealth(succeeded, failed, {
    runtime_p50_s: p95,
    runtime_p95_s: p95,
    queue_wait_p50_s: p95,
    queue_wait_p95_s: p95,
    ...extra,
  });
}

const obs = (
  node: string,
  h: ProgramHealth[],
  apply: NodeObservation['apply'] = 'ok',
  crash: string[] = [],
): NodeObservation => ({
  node,
  apply,
  crash_looping: crash,
  health: h,
});

describe('evaluateGates', () => {
  const baseline = [obs('b1', [health(90, 10, 0.2)]), obs('b2', [health(100, 0, 0.2)])]; // 5 % failing, 9.5/s per node
  it.each<[string, RolloutPolicyInput['gates'], NodeObservation[], string, Record<string, string>]>([
    ['all applied and healthy', {}, [obs('w1', [health(10, 0)])], 'pass', { apply_ok: 'pass', no_crash_loop: 'pass' }],
    ['apply pending', {}, [obs('w1', [], 'pending')], 'pending', { apply_ok: 'pending', no_crash_loop: 'pending' }],
    ['apply failed', {}, [obs('w1', [], 'failed')], 'fail', { apply_ok: 'fail' }],
    ['crash loop', {}, [obs('w1', [], 'ok', ['worker'])], 'fail', { no_crash_loop: 'fail' }],
    [
      'absolute failure rate breached',
      { failure_rate: { max: 0.1 } },
      [obs('w1', [health(5, 5)])],
      'fail',
      { failure_rate: 'fail' },
    ],
    [
      'absolute failure rate held',
      { failure_rate: { max: 0.1 } },
      [obs('w1', [health(95, 5)])],
      'pass',
      { failure_rate: 'pass' },
    ],
    [
      'relative failure rate breached',
      { failure_rate: { max_increase: 0.05 } },
      [obs('w1', [health(85, 15)])],
      'fail',
      { failure_rate: 'fail' },
    ],
    [
      'relative failure rate held',
      { failure_rate: { max_increase: 0.05 } },
      [obs('w1', [health(92, 8)])],
      'pass',
      { failure_rate: 'pass' },
    ],
    [
      'too few tasks ended',
      { failure_rate: { max: 0.1, min_tasks: 20 } },
      [obs('w1', [health(5, 0)])],
      'pending',
      { failure_rate: 'pending' },
    ],
    [
      'no tasks yet',
      { failure_rate: { max: 0.1 } },
      [obs('w1', [health(0, 0, null)])],
      'pending',
      { failure_rate: 'pending' },
    ],
    [
      'health waits for apply',
      { failure_rate: { max: 0.1 } },
      [obs('w1', [health(0, 10)]), obs('w2', [], 'pending')],
      'pending',
      { failure_rate: 'pending' },
    ],
    [
      'p95 vs baseline breached',
      { runtime_p95_s: { max_ratio: 2 } },
      [obs('w1', [health(10, 0, 0.5)])],
      'fail',
      { runtime_p95_s: 'fail' },
    ],
    [
      'p95 vs baseline held',
      { runtime_p95_s: { max_ratio: 2 } },
      [obs('w1', [health(10, 0, 0.3)])],
      'pass',
      { runtime_p95_s: 'pass' },
    ],
    [
      'queue wait absolute',
      { queue_wait_p95_s: { max: 0.1 } },
      [obs('w1', [health(10, 0, 0.3)])],
      'fail',
      { queue_wait_p95_s: 'fail' },
    ],
    [
      'throughput vs baseline breached',
      { throughput: { min_ratio: 0.5 } },
      [obs('w1', [health(20, 0)])],
      'fail',
      { throughput: 'fail' },
    ],
    [
      'throughput vs baseline held',
      { throughput: { min_ratio: 0.5 } },
      [obs('w1', [health(60, 0)])],
      'pass',
      { throughput: 'pass' },
    ],
  ])('%s', (_name, gates, wave, verdict, byGate) => {
    const result = evaluateGates(policy({ waves: [{ rest: true }], gates }).gates, wave, baseline);
    expect(result.verdict).toBe(verdict);
    for (const [gate, expected] of Object.entries(byGate))
      expect(result.gates.find((g) => g.gate === gate)?.verdict, gate).toBe(expected);
  });
  it('reports the measured value and the bound of a breach', () => {
    const result = evaluateGates(
      policy({ waves: [{ rest: true }], gates: { failure_rate: { max: 0.5, max_increase: 0.05 } } }).gates,
      [obs('w1', [health(0, 10)])],
      baseline,
    );
    expect(result.gates.find((g) => g.gate === 'failure_rate')).toMatchObject({
      verdict: 'fail',
      measured: 1,
      bound: 0.1,
    });
  });
  it('a program whose outcomes are unavailable (Python, task events off) is no data, not health', () => {
    const blind = health(0, 0, null, {
      source: 'inspect_stats',
      outcomes: 'unavailable',
      outcomes_reason: 'worker_send_task_events is false in its layers',
    });
    const gates = policy({
      waves: [{ rest: true }],
      gates: { failure_rate: { max: 0.1 }, throughput: { min: 1 } },
    }).gates;
    // Alone on the wave: pending (no data), where its zero succeeded/s used to fail the throughput gate.
    const alone = evaluateGates(gates, [obs('w1', [blind])], baseline);
    expect(alone.verdict).toBe('pending');
    expect(alone.gates.find((g) => g.gate === 'throughput')).toMatchObject({ verdict: 'pending', measured: null });
    expect(alone.gates.find((g) => g.gate === 'failure_rate')?.detail).toContain(
      '1 program(s) report no outcomes and are not counted',
    );
    // Beside a measured program: judged on that one, and the detail says what was left out.
    const mixed = evaluateGates(gates, [obs('w1', [health(95, 5), blind])], baseline);
    expect(mixed.gates.find((g) => g.gate === 'failure_rate')).toMatchObject({ verdict: 'pass', measured: 0.05 });
    expect(mixed.gates.find((g) => g.gate === 'throughput')).toMatchObject({ verdict: 'pass', measured: 9.5 });
    expect(aggregateHealth([obs('w1', [health(95, 5), blind])]).unmeasured).toBe(1);
  });
  it('without baseline data relative p95 bounds do not apply', () => {
    const result = evaluateGates(
      policy({ waves: [{ rest: true }], gates: { runtime_p95_s: { max_ratio: 2 } } }).gates,
      [obs('w1', [health(1, 0, 9)])],
      [],
    );
    expect(result.gates.find((g) => g.gate === 'runtime_p95_s')).toMatchObject({ verdict: 'pass', bound: null });
  });
});

describe('observeNode', () => {
  const status = (over: Partial<NodeStatus>): NodeStatus => ({
    applied_revision: 4,
    apply_result: 'ok',
    programs: {},
    ...over,
  });
  it.each<[string, NodeStatus | undefined, string]>([
    ['never reported', undefined, 'pending'],
    ['older revision', status({ applied_revision: 3 }), 'pending'],
    ['applied', status({}), 'ok'],
    ['applied a later one', status({ applied_revision: 6 }), 'ok'],
    ['refused it', status({ applied_revision: 3, attempted_revision: 4, apply_result: 'invalid' }), 'failed'],
    ['failed an older one', status({ applied_revision: 2, attempted_revision: 3, apply_result: 'failed' }), 'pending'],
  ])('%s', (_name, s, apply) => {
    expect(observeNode('n', s, 4).apply).toBe(apply);
  });
  it('finds crash loops from state and health', () => {
    const program = {
      kind: 'celeriac-worker' as const,
      pids: [] as number[],
      restarts: 0,
      config_hash: 'h',
      last_exit: null,
    };
    const s = status({
      programs: {
        a: { ...program, state: 'fatal' },
        b: { ...program, state: 'running', health: health(1, 0, 0.1, { crash_loop: true }) },
        c: { ...program, state: 'running' },
      },
    });
    expect(observeNode('n', s, 4).crash_looping).toEqual(['a', 'b']);
  });
});

describe('decideStep', () => {
  const base: StepInput = {
    now_ms: 100_000,
    wave_started_ms: 50_000,
    passing_since_ms: 80_000,
    soak_ms: 10_000,
    progress_deadline_ms: 60_000,
    verdict: 'pass',
    last_wave: false,
    paused: false,
    promote_now: false,
    waiting_for_budget: 0,
  };
  it.each<[string, Partial<StepInput>, string, number | null]>([
    ['soaked: promote', {}, 'promote', 80_000],
    ['soaked last wave: done', { last_wave: true }, 'done', 80_000],
    ['still soaking', { passing_since_ms: 95_000 }, 'hold', 95_000],
    ['starts passing now', { passing_since_ms: null }, 'hold', 100_000],
    ['gate fails: roll back', { verdict: 'fail' }, 'rollback', null],
    ['gate fails while paused: roll back', { verdict: 'fail', paused: true }, 'rollback', null],
    ['pending resets the soak', { verdict: 'pending' }, 'hold', null],
    ['pending past the deadline: roll back', { verdict: 'pending', wave_started_ms: 30_000 }, 'rollback', null],
    ['paused holds even when soaked', { paused: true }, 'hold', 80_000],
    ['operator promotes before the soak', { passing_since_ms: 99_000, promote_now: true }, 'promote', 99_000],
    ['operator promotes a pending wave', { verdict: 'pending', promote_now: true }, 'promote', null],
    ['operator promote waits for the budget', { promote_now: true, waiting_for_budget: 1 }, 'hold', 80_000],
    ['budget holds the wave', { waiting_for_budget: 2 }, 'hold', 80_000],
  ])('%s', (_name, over, action, passingSince) => {
    const decision = decideStep({ ...base, ...over });
    expect(decision.action).toBe(action);
    expect(decision.passing_since_ms).toBe(passingSince);
  });
});

describe('restart budget', () => {
  it.each<[string, { programs?: number; percent?: number } | undefined, number, number]>([
    ['none', undefined, 10, Number.POSITIVE_INFINITY],
    ['programs', { programs: 2 }, 10, 2],
    ['percent', { percent: 25 }, 10, 2],
    ['tighter of both', { programs: 1, percent: 50 }, 10, 1],
    ['percent never below one', { percent: 1 }, 10, 1],
  ])('limit: %s', (_name, budget, fleetPrograms, limit) => {
    expect(restartLimit(budget, fleetPrograms)).toBe(limit);
  });
  const c = (node: string, restarts: number) => ({ node, restarts });
  it.each<[string, number, { node: string; restarts: number }[], string[], string[]]>([
    ['fills to the limit', 0, [c('a', 1), c('b', 1), c('c', 1)], ['a', 'b'], ['c']],
    ['counts what is in flight', 1, [c('a', 1), c('b', 1)], ['a'], ['b']],
    ['full: nobody', 2, [c('a', 1)], [], ['a']],
    ['a node restarting nothing always goes', 2, [c('a', 0), c('b', 1)], ['a'], ['b']],
    ['a node bigger than the budget goes alone', 0, [c('a', 5), c('b', 1)], ['a'], ['b']],
    ['keeps order: no overtaking', 1, [c('a', 2), c('b', 1)], [], ['a', 'b']],
  ])('admission: %s', (_name, inFlight, candidates, admitted, waiting) => {
    expect(admitRestarts({ programs: 2 }, 10, inFlight, candidates)).toMatchObject({ admitted, waiting });
  });
});

describe('stillRestarting', () => {
  const program = (state: string, pids: number[]) => ({
    kind: 'celeriac-worker' as const,
    state,
    pids,
    restarts: 0,
    config_hash: 'h',
    last_exit: null,
  });
  const status = (programs: Record<string, ReturnType<typeof program>>): NodeStatus =>
    ({ applied_revision: 3, apply_result: 'ok', programs, heartbeat_ms: 1000 }) as unknown as NodeStatus;
  const config = { programs: { w: { replicas: 2 }, one: {} } };
  it.each([
    ['no status yet', undefined, true],
    [
      'every program at its replicas and running',
      status({ w: program('running', [1, 2]), one: program('running', [3]) }),
      false,
    ],
    ['old replicas still draining', status({ w: program('running', [1, 2, 4]), one: program('running', [3]) }), true],
    ['a program not running', status({ w: program('running', [1, 2]), one: program('starting', []) }), true],
  ])('%s', (_what, s, expected) => {
    expect(stillRestarting(s, config)).toBe(expected);
  });
});
