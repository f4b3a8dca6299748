/** How a held long-poll ended. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed' | 'aborted';

interface Waiter {
  finish(outcome: WaitOutcome): void;
}

/**
 * Holds long-polls per node: a Map from node to the set of its waiters, one timer per waiter and
 * nothing else, so thousands cost little. `wake(node)` answers only that node's waiters.
 */
export class LongPollHub {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private heldCount = 0;
  private closed = false;

  /** Number of long-polls held right now. */
  get held(): number {
    return this.heldCount;
  }

  /**
   * Waits until `wake(node)`, the timeout, `close()`, or `signal` aborts (client went away).
   * Never rejects.
   */
  wait(node: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WaitOutcome>((resolve) => {
      let set = this.waiters.get(node);
      if (!set) {
        set = new Set();
        this.waiters.set(node, set);
      }
      const nodeSet = set;
      const onAbort = () => waiter.finish('aborted');
      const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
      const waiter: Waiter = {
        finish: (outcome) => {
          if (!nodeSet.delete(waiter)) return;
          this.heldCount--;
          if (nodeSet.size === 0 && this.waiters.get(node) === nodeSet) this.waiters.delete(node);
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      nodeSet.add(waiter);
      this.heldCount++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Nodes with at least one held long-poll. */
  waitingNodes(): string[] {
    return [...this.waiters.keys()];
  }

  /** Answers every long-poll held for `node`; returns how many were woken. */
  wake(node: string): number {
    const set = this.waiters.get(node);
    if (!set) return 0;
    const woken = [...set];
    for (const waiter of woken) waiter.finish('changed');
    return woken.length;
  }

  /** Ends every held long-poll with `closed` and refuses new ones. Idempotent. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.finish('closed');
    this.waiters.clear();
  }
}
