import { priorityStepOf, type TransportOptions } from './transport-options.js';

/**
 * The Redis lists of queues under the transport options: `Q` for step 0 and `Q<sep><step>` for
 * the others (kombu's `_q_for_pri`), in the order of the priority steps. Names are logical: the
 * connection applies `global_keyprefix`.
 */
export class QueueLists {
  private readonly byQueue = new Map<string, string[]>();
  readonly steps: readonly number[];
  readonly sep: string;

  constructor(options: Pick<TransportOptions, 'sep' | 'prioritySteps'>) {
    this.steps = options.prioritySteps;
    this.sep = options.sep;
  }

  /** The list a message of `priority` goes to. */
  key(queue: string, priority = 0): string {
    const step = priorityStepOf(this.steps, priority);
    return step === 0 ? queue : queue + this.sep + String(step);
  }

  /** Every list of the queue, one per priority step, lowest step (served first) first. */
  keys(queue: string): string[] {
    let keys = this.byQueue.get(queue);
    if (!keys) {
      keys = this.steps.map((step) => (step === 0 ? queue : queue + this.sep + String(step)));
      this.byQueue.set(queue, keys);
    }
    return keys;
  }

  /** The list a restore pushes back onto: kombu restores onto the list of step 0's name (the plain queue). */
  plain(queue: string): string {
    return queue;
  }
}
