import {
  type EffectiveConfig as Config,
  classifyChange,
  type ImpactPreviewResponse,
  type NodeImpact,
  type ProgramChange,
  type ProgramImpact,
} from '@celeriac/config-schema';
import type { CenterState, WritePlan } from './center-state.js';
import type { EffectiveConfig } from './effective-config.js';
import { jsonDiff } from './json-diff.js';

/** What POST /v1/preview answers. */
export type ImpactPreview = ImpactPreviewResponse;

/** Inputs of `previewImpact`: the state before the write and the plan the write would commit. */
export interface PreviewInput {
  state: CenterState;
  layer: string;
  kind: string;
  baseRevision: number;
  before: Record<string, unknown> | undefined;
  after: Record<string, unknown>;
  /** Undefined when the document would not change. */
  plan: WritePlan | undefined;
  /** Nodes with a layer and nodes that reported a status. */
  knownNodes: readonly string[];
}

interface ProgramShape {
  kind?: string;
  replicas?: number;
  concurrency?: number;
}

/**
 * One program's impact: the classification the agent makes, and how many processes and worker
 * slots stop taking tasks at the same moment. The agent restarts rolling (every replacement ready
 * before the old replicas are drained, all of them together), so a restart drains all old replicas
 * at once while their replacements already serve; a stop or a scale down removes them.
 */
export function programImpact(
  change: ProgramChange,
  before: ProgramShape | undefined,
  after: ProgramShape | undefined,
): ProgramImpact {
  const replicasBefore = before?.replicas ?? 0;
  const replicasAfter = after?.replicas ?? 0;
  const concurrencyBefore = before ? (before.concurrency ?? 1) : 0;
  const concurrencyAfter = after ? (after.concurrency ?? 1) : 0;
  let out = 0;
  let removed = 0;
  switch (change.action) {
    case 'restart':
      out = replicasBefore;
      removed = Math.max(0, replicasBefore * concurrencyBefore - replicasAfter * concurrencyAfter);
      break;
    case 'stop':
      out = replicasBefore;
      removed = replicasBefore * concurrencyBefore;
      break;
    case 'scale':
      out = Math.max(0, replicasBefore - replicasAfter);
      removed = out * concurrencyBefore;
      break;
  }
  return {
    kind: after?.kind ?? before?.kind ?? 'unknown',
    action: change.action,
    reasons: change.reasons,
    replicas_before: replicasBefore,
    replicas_after: replicasAfter,
    concurrency_before: concurrencyBefore,
    concurrency_after: concurrencyAfter,
    processes_out_at_once: out,
    worker_slots_out_at_once: out * concurrencyBefore,
    worker_slots_removed: removed,
  };
}

/** Per node and program, what the write would restart and why; nothing is written. */
export function previewImpact(input: PreviewInput): ImpactPreview {
  const { state, plan } = input;
  const nodes: NodeImpact[] = [];
  let unchanged = 0;
  if (plan) {
    const targets = new Map<string, EffectiveConfig>(plan.nodes);
    if (plan.baseline) {
      for (const node of input.knownNodes)
        if (!state.hasNodeLayer(node) && !targets.has(node)) targets.set(node, plan.baseline);
    }
    for (const node of [...targets.keys()].sort()) {
      const after = targets.get(node) as EffectiveConfig;
      const before = state.view(node);
      if (before.hash === after.hash) {
        unchanged++;
        continue;
      }
      nodes.push(nodeImpact(node, before, after));
    }
  }
  const sum = (pick: (n: NodeImpact) => number) => nodes.reduce((total, n) => total + pick(n), 0);
  return {
    layer: input.layer,
    kind: input.kind,
    base_revision: input.baseRevision,
    head_revision: state.head,
    changed: plan !== undefined,
    diff: plan ? jsonDiff(input.before ?? {}, input.after) : [],
    nodes,
    unchanged_nodes: unchanged,
    totals: {
      nodes_changed: nodes.length,
      nodes_restarting: nodes.filter((n) => Object.values(n.programs).some((p) => p.action === 'restart')).length,
      programs_restarting: sum((n) => Object.values(n.programs).filter((p) => p.action === 'restart').length),
      processes_out_at_once: sum((n) => n.processes_out_at_once),
      worker_slots_out_at_once: sum((n) => n.worker_slots_out_at_once),
      worker_slots_removed: sum((n) => Object.values(n.programs).reduce((t, p) => t + p.worker_slots_removed, 0)),
    },
  };
}

function nodeImpact(node: string, before: EffectiveConfig & { revision: number }, after: EffectiveConfig): NodeImpact {
  const oldConfig = before.config as unknown as Config;
  const newConfig = after.config as unknown as Config;
  const changes = classifyChange(oldConfig, newConfig);
  const programs: Record<string, ProgramImpact> = {};
  for (const [name, change] of Object.entries(changes)) {
    programs[name] = programImpact(change, oldConfig.programs?.[name], newConfig.programs?.[name]);
  }
  const list = Object.values(programs);
  return {
    node,
    revision_before: before.revision,
    hash_before: before.hash,
    hash_after: after.hash,
    programs,
    programs_affected: list.filter((p) => p.action !== 'none').length,
    processes_out_at_once: list.reduce((t, p) => t + p.processes_out_at_once, 0),
    worker_slots_out_at_once: list.reduce((t, p) => t + p.worker_slots_out_at_once, 0),
  };
}
