import { parseSelector, type RolloutPolicy, type SelectableNode, selectNodes } from '@celeriac/config-schema';

/** One planned wave: the nodes it changes and how long its gates must hold. */
export interface PlannedWave {
  /** Index into the policy's waves; the implicit last wave has the policy's length. */
  policy_index: number;
  nodes: string[];
  soak_ms: number;
}

/**
 * Splits the affected nodes (sorted by name, so a plan is stable) into the policy's waves. Counts
 * and percentages take the next nodes not yet planned (a percentage of all affected nodes, at least
 * one); a selector takes the remaining nodes it matches. Empty waves are dropped, and nodes no wave
 * took form a last wave, so a finished rollout leaves no node behind. Pure.
 */
export function planWaves(policy: RolloutPolicy, affected: readonly SelectableNode[]): PlannedWave[] {
  let remaining = [...affected].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const total = remaining.length;
  const plan: PlannedWave[] = [];
  const push = (policyIndex: number, taken: SelectableNode[], soak: number | undefined): void => {
    const names = new Set(taken.map((node) => node.node));
    remaining = remaining.filter((node) => !names.has(node.node));
    if (taken.length > 0) plan.push({ policy_index: policyIndex, nodes: [...names], soak_ms: soak ?? policy.soak });
  };
  policy.waves.forEach((wave, index) => {
    if ('nodes' in wave) push(index, remaining.slice(0, wave.nodes), wave.soak);
    else if ('percent' in wave)
      push(index, remaining.slice(0, Math.max(1, Math.ceil((total * wave.percent) / 100))), wave.soak);
    else if ('selector' in wave) {
      const parsed = parseSelector(wave.selector);
      push(index, parsed.ok ? selectNodes(parsed.selector, remaining) : [], wave.soak);
    } else push(index, remaining, wave.soak);
  });
  if (remaining.length > 0) push(policy.waves.length, remaining, undefined);
  return plan;
}
