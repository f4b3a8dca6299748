import type { Logger } from '@celeriac/logger';
import type { ControlClient } from './control-client.js';
import type { LamportClock } from './lamport-clock.js';
import type { RevokedSet } from './revoked-set.js';

export interface MingleOptions {
  client: ControlClient;
  revoked: RevokedSet;
  /** This node's name (its own reply is left out). */
  hostname: string;
  clock: LamportClock;
  logger: Logger;
  /** Celery waits 1 s for neighbours. */
  timeoutMs?: number;
}

/**
 * Celery's mingle at start-up (celery/worker/consumer/mingle.py): broadcasts `hello` with our
 * revoked ids and merges the revoked ids and clocks of every node that answers, so a Celeriac
 * worker also learns revokes that only Python workers saw. Takes `timeoutMs` (every reply is
 * awaited until then): run it in the background if start-up time matters.
 */
export async function mingle(options: MingleOptions): Promise<{ nodes: number; revoked: number }> {
  const { client, revoked, hostname, clock, logger } = options;
  const before = revoked.size;
  const replies = await client.broadcast(
    'hello',
    { from_node: hostname, revoked: revoked.mingleEntries() },
    { timeoutMs: options.timeoutMs ?? 1_000 },
  );
  let nodes = 0;
  for (const reply of replies) {
    for (const [node, value] of Object.entries(reply)) {
      if (node === hostname || value === null || typeof value !== 'object') continue;
      nodes += 1;
      const data = value as { clock?: unknown; revoked?: unknown };
      if (data.clock !== undefined) clock.adjust(data.clock);
      else clock.forward();
      try {
        await revoked.mergeMingle(data.revoked);
      } catch (err) {
        logger.warn({ event: 'control.mingle_failed', node, err }, 'mingle: sync with a node failed');
      }
    }
  }
  const learned = Math.max(0, revoked.size - before);
  logger.info(
    { event: 'control.mingle_done', nodes, revoked_learned: learned },
    nodes === 0 ? 'mingle: all alone' : `mingle: sync with ${nodes} nodes`,
  );
  return { nodes, revoked: learned };
}
