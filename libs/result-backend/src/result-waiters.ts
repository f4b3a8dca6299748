import { READY_STATES, type ResultDocument } from '@celeriac/protocol';

/** What one `waitFor` call is waiting with. */
export interface Waiter {
  resolve(doc: ResultDocument | null): void;
  reject(error: Error): void;
  /** Called with every non-final document (RETRY, STARTED, PROGRESS, ...) seen while waiting. */
  onUpdate: ((doc: ResultDocument) => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** The waiters of one result channel, sharing one SUBSCRIBE. */
export interface ChannelWaiters {
  waiters: Set<Waiter>;
  /** Settles when Redis confirmed the subscription. */
  subscribed: Promise<unknown>;
  /** The latest non-final document seen on the channel. */
  latest: ResultDocument | undefined;
  /** Documents delivered so far (tells a read whether a message overtook it). */
  delivered: number;
  /** The stored bytes of the last document delivered (a read that returns them again is not news). */
  lastRaw: Buffer | undefined;
}

/** Whether a state ends a task: SUCCESS, FAILURE, REVOKED. */
export function isFinal(doc: ResultDocument): boolean {
  return READY_STATES.has(doc.status);
}

/**
 * Waiters per channel, with a count per channel so that concurrent waiters share one SUBSCRIBE
 * and the channel is UNSUBSCRIBEd when its last waiter leaves.
 */
export class ResultWaiters {
  private readonly channels = new Map<string, ChannelWaiters>();

  constructor(
    private readonly subscribe: (channel: string) => Promise<unknown>,
    private readonly unsubscribe: (channel: string) => void,
  ) {}

  /** Adds a waiter; subscribes the channel when it is the first one. */
  add(channel: string, waiter: Waiter): ChannelWaiters {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = {
        waiters: new Set(),
        subscribed: this.subscribe(channel),
        latest: undefined,
        delivered: 0,
        lastRaw: undefined,
      };
      this.channels.set(channel, entry);
    }
    entry.waiters.add(waiter);
    return entry;
  }

  /** Removes a waiter (clearing its timer); unsubscribes the channel when it was the last one. */
  remove(channel: string, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const entry = this.channels.get(channel);
    if (!entry?.waiters.delete(waiter)) return;
    if (entry.waiters.size === 0) {
      this.channels.delete(channel);
      this.unsubscribe(channel);
    }
  }

  /** Hands a document of `channel` to its waiters: a final one settles them, another one is an update. */
  deliver(channel: string, doc: ResultDocument, raw?: Buffer): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    entry.delivered++;
    entry.lastRaw = raw;
    if (isFinal(doc)) {
      for (const waiter of [...entry.waiters]) {
        this.remove(channel, waiter);
        waiter.resolve(doc);
      }
      return;
    }
    entry.latest = doc;
    for (const waiter of entry.waiters) waiter.onUpdate?.(doc);
  }

  /** Fails every waiter of `channel`. */
  fail(channel: string, error: Error): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    for (const waiter of [...entry.waiters]) {
      this.remove(channel, waiter);
      waiter.reject(error);
    }
  }

  /** The latest non-final document seen on a channel that still has waiters. */
  latest(channel: string): ResultDocument | undefined {
    return this.channels.get(channel)?.latest;
  }

  /** Documents delivered on a channel so far, or -1 when it has no waiters. */
  deliveredCount(channel: string): number {
    return this.channels.get(channel)?.delivered ?? -1;
  }

  /** The stored bytes of the last document delivered on a channel. */
  lastRaw(channel: string): Buffer | undefined {
    return this.channels.get(channel)?.lastRaw;
  }

  /** Whether a channel has waiters. */
  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  /** Channels that have waiters. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Number of channels with waiters (one SUBSCRIBE each). */
  get size(): number {
    return this.channels.size;
  }
}
