import { type CenterApi, eventually, type NodeSummary } from './center-api.js';

/**
 * Waits until `node` applied its desired revision (result ok) and each program of `replicas` runs
 * that many replicas; resolves with the node's summary.
 */
export function nodeSettled(
  admin: CenterApi,
  node: string,
  replicas: Record<string, number>,
  timeoutMs: number,
): Promise<NodeSummary> {
  return eventually(
    async () => {
      const n = await admin.node(node);
      const ok =
        n.applied_revision === n.desired_revision &&
        n.apply_result === 'ok' &&
        Object.entries(replicas).every(
          ([p, count]) => n.programs[p]?.state === 'running' && n.programs[p]?.pids.length === count,
        );
      return ok ? n : undefined;
    },
    timeoutMs,
    `node ${node} settled`,
  );
}
