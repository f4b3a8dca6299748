/**
 * Round-robin order of the queues a consumer reads, like kombu's `_queue_cycle`: every call to
 * `next()` starts one queue further, so no queue starves the others.
 */
export class QueueCycle {
  private offset = 0;

  /** The queues rotated by the current offset; advances the offset for the next call. */
  next(queues: readonly string[]): string[] {
    const n = queues.length;
    if (n <= 1) return queues.slice();
    const start = this.offset % n;
    this.offset = (start + 1) % n;
    return start === 0 ? queues.slice() : [...queues.slice(start), ...queues.slice(0, start)];
  }
}
