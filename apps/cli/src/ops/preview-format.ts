import type { ImpactPreviewResponse, ProgramImpact, RevisionRollout } from '@celeriac/config-schema';
import { formatDiff } from './diff-format.js';

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "restart, 2 processes (8 worker slots) out at once: task_annotations changed (...)". */
export function formatProgramImpact(impact: ProgramImpact): string {
  const action = impact.action === 'none' ? 'no restart' : impact.action;
  const out =
    impact.processes_out_at_once > 0
      ? `, ${plural(impact.processes_out_at_once, 'process', 'processes')} (${plural(impact.worker_slots_out_at_once, 'worker slot')}) out at once`
      : '';
  const removed =
    impact.worker_slots_removed > 0 ? `, ${plural(impact.worker_slots_removed, 'worker slot')} removed` : '';
  const reasons = impact.reasons.length > 0 ? `: ${impact.reasons.join('; ')}` : '';
  return `${action}${out}${removed}${reasons}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Which rollout policy a write gets: "rollout: the default_rollout of groups/eu applies", "...: none (bypassed ...)". */
export function formatRolloutSource(rollout: { source: string; layer?: string | undefined }): string {
  switch (rollout.source) {
    case 'write':
      return "rollout: the write's own policy (--rollout) applies";
    case 'layer':
      return `rollout: the default_rollout of ${rollout.layer} applies`;
    case 'bypassed':
      return `rollout: none (--rollout none${rollout.layer ? `; the default_rollout of ${rollout.layer} is bypassed` : ''}): every node is served the change at once`;
    default:
      return 'rollout: no policy applies (no --rollout, no default_rollout in the layers): every node is served the change at once';
  }
}

/** After a write: which rollout policy applied, and how to follow it; undefined when none was involved. */
export function formatRevisionRollout(rollout: RevisionRollout | undefined, revision: number): string | undefined {
  if (!rollout) return undefined;
  const line = formatRolloutSource(rollout);
  return rollout.source === 'bypassed' ? line : `${line}; follow it with: celeriac rollout status r${revision}`;
}

/** The preview's rollout lines: the policy that would apply and the waves it would plan. */
function formatPreviewRollout(rollout: NonNullable<ImpactPreviewResponse['rollout']>): string[] {
  const lines = [formatRolloutSource(rollout)];
  (rollout.waves ?? []).forEach((wave, index) => {
    lines.push(`  wave ${index + 1}: ${wave.nodes.join(', ')} (soak ${seconds(wave.soak_ms)})`);
  });
  return lines;
}

/** The lines `celeriac config ... --dry-run` prints: the diff, then per node and program what restarts and why. */
export function formatPreview(preview: ImpactPreviewResponse): string[] {
  const lines: string[] = [];
  if (!preview.changed) {
    lines.push(`${preview.layer}: no change (still at revision ${preview.base_revision}); nothing would restart`);
    return lines;
  }
  lines.push(
    `dry run, nothing was written: ${preview.layer} (at revision ${preview.base_revision}) would change, ${plural(preview.diff.length, 'change')}`,
  );
  lines.push(...formatDiff(preview.diff, '  '));
  for (const node of preview.nodes) {
    lines.push(`node ${node.node} (config of revision ${node.revision_before} changes):`);
    const width = Math.max(...Object.keys(node.programs).map((name) => name.length), 0);
    for (const [name, impact] of Object.entries(node.programs).sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`  ${name.padEnd(width)}  ${formatProgramImpact(impact)}`);
    }
    if (Object.keys(node.programs).length === 0) lines.push('  no programs');
  }
  const t = preview.totals;
  const unchanged = preview.unchanged_nodes > 0 ? ` (${plural(preview.unchanged_nodes, 'other node')} unchanged)` : '';
  if (preview.nodes.length === 0) {
    lines.push(`no node's merged config changes${unchanged}: nothing would restart`);
    return lines;
  }
  lines.push(
    `${plural(t.nodes_changed, 'node')} change${unchanged}, ${t.nodes_restarting} with restarts, ${plural(t.programs_restarting, 'program')} restart; ` +
      `at most ${plural(t.processes_out_at_once, 'process', 'processes')} (${plural(t.worker_slots_out_at_once, 'worker slot')}) out of service at once ` +
      'when every node applies together (rolling: replacements are ready before old processes drain)' +
      (t.worker_slots_removed > 0 ? `; ${plural(t.worker_slots_removed, 'worker slot')} removed for good` : ''),
  );
  if (preview.rollout) lines.push(...formatPreviewRollout(preview.rollout));
  return lines;
}
