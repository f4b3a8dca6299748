import type { Revision } from './types.js';

/**
 * The part of the center's materialised state that only a replay of every revision could
 * rebuild: which revisions changed each node's effective config. Layer documents are not in it
 * (they are the log's own records), nor are effective configs (computed once per distinct node
 * layer when the checkpoint is restored).
 */
export interface StateCheckpoint {
  /** The newest revision the checkpoint covers. */
  head: number;
  /** `layer@time` of revision `head`: a log that does not have this revision there is not the one checkpointed. */
  head_mark: string;
  /** Per node with a layer: every revision that changed its effective config, oldest first. */
  nodes: Record<string, number[]>;
  /** The same for nodes without a layer (the defaults-only config). */
  baseline: number[];
}

/** What identifies revision `revision` of a log in a checkpoint. */
export function revisionMark(revision: Revision): string {
  return `${revision.layer}@${revision.time}`;
}
