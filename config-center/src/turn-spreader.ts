/**
 * Something the spreader runs once; `fail` is told when `run` threw. `complete`, when there is one,
 * runs after every `run` of the same batch, in the same turn (a fan-out writes a batch's answers
 * first and does their bookkeeping after, so the last answer of the batch leaves sooner).
 */
export interface SpreadTask {
  run(): void;
  complete?(): void;
  fail(error: unknown): void;
}

/**
 * Runs queued tasks a batch per event-loop turn (`setImmediate`), oldest first. A fan-out that
 * answers thousands of long-polls at once then leaves the loop to other I/O (new connections,
 * status reports, the write's own response) between batches, instead of starving it until the
 * last answer is written; the tail is not later, since the batches run back to back.
 */
export class TurnSpreader {
  private queue: (SpreadTask | undefined)[] = [];
  private next = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly perTurn: number) {}

  /** Tasks queued and not run yet. */
  get pending(): number {
    return this.queue.length - this.next;
  }

  /** Queues `task` for one of the next turns. */
  push(task: SpreadTask): void {
    this.queue.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.runBatch);
    }
  }

  /** Resolves once every task queued so far has run (at once when none is queued). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs every queued task now, in this turn. */
  flush(): void {
    this.runUpTo(this.queue.length);
  }

  private readonly runBatch = (): void => {
    this.runUpTo(this.next + this.perTurn);
    if (this.next < this.queue.length) setImmediate(this.runBatch);
    else this.scheduled = false;
  };

  private runUpTo(count: number): void {
    const start = this.next;
    const end = Math.min(this.queue.length, count);
    for (; this.next < end; this.next++) {
      const task = this.queue[this.next] as SpreadTask;
      try {
        task.run();
      } catch (error) {
        task.fail(error);
        this.queue[this.next] = undefined;
      }
    }
    for (let i = start; i < end; i++) {
      const task = this.queue[i];
      this.queue[i] = undefined;
      if (!task?.complete) continue;
      try {
        task.complete();
      } catch (error) {
        task.fail(error);
      }
    }
    if (this.next === this.queue.length) {
      this.queue = [];
      this.next = 0;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
