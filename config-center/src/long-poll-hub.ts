/** How a held long-poll ended. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed' | 'aborted';

interface Waiter {
  finish(outcome: WaitOutcome): void;
}

/**
 * What ends a wait early (the client went away). An AbortSignal is one; the routes use a
 * lighter one per long-poll (`ClientGone`), since thousands are held at once.
 */
export interface WaitCancel {
  readonly aborted: boolean;
  /** Registers the one callback to run on cancellation; returns what unregisters it. */
  onCancel(callback: () => void): () => void;
}

/** A `WaitCancel` that an owner cancels by calling `cancel()`. */
export class ClientGone implements WaitCancel {
  private callback: (() => void) | undefined;
  aborted = false;

  onCancel(callback: () => void): () => void {
    this.callback = callback;
    return () => {
      this.callback = undefined;
    };
  }

  cancel(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.callback?.();
  }
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
  wait(node: string, timeoutMs: number, signal?: WaitCancel): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WaitOutcome>((resolve) => {
      let set = this.waiters.get(node);
      if (!set) {
        set = new Set();
        this.waiters.set(node, set);
      }
      const nodeSet = set;
      let stopListening: (() => void) | undefined;
      const timer = setTimeout(() => waiter.finish('timeout'), timeoutMs);
      const waiter: Waiter = {
        finish: (outcome) => {
          if (!nodeSet.delete(waiter)) return;
          this.heldCount--;
          if (nodeSet.size === 0 && this.waiters.get(node) === nodeSet) this.waiters.delete(node);
          clearTimeout(timer);
          stopListening?.();
          resolve(outcome);
        },
      };
      nodeSet.add(waiter);
      this.heldCount++;
      stopListening = signal?.onCancel(() => waiter.finish('aborted'));
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
