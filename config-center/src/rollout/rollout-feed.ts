import type { RolloutRecord } from './rollout-record.js';

/** What the feed reads of the controller. */
export interface RolloutSource {
  list(): RolloutRecord[];
  readonly driving: boolean;
}

/** Called with the JSON of `{version, now, driving, rollouts}` (as GET /v1/rollouts, plus a version and the clock). */
export type RolloutFeedListener = (json: string) => void;

/**
 * The rollout state as a versioned feed for GET /v1/rollouts/stream. The controller changes its
 * records from many places (a tick's gate values, a command, a follower replica re-reading the
 * driver's records after the store's pub/sub), so the feed compares the serialised state every
 * `checkMs` while anyone listens, and at once after `poke` (a command answered here). Nothing
 * runs while no console listens.
 */
export class RolloutFeed {
  private version = 0;
  private state = '';
  private readonly listeners = new Set<RolloutFeedListener>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: RolloutSource,
    private readonly checkMs = 200,
  ) {}

  /** The current state as a listener gets it. */
  current(): string {
    this.check();
    return this.message();
  }

  /** Listens until the returned function is called. */
  subscribe(listener: RolloutFeedListener): () => void {
    this.check();
    this.listeners.add(listener);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.check(), this.checkMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Looks for a change now (after a command). */
  poke(): void {
    if (this.listeners.size > 0) this.check();
  }

  /** Stops the checks and forgets every listener. */
  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const state = JSON.stringify({ driving: this.source.driving, rollouts: this.source.list() });
    if (state === this.state) return;
    this.state = state;
    this.version += 1;
    if (this.listeners.size === 0) return;
    const message = this.message();
    for (const listener of this.listeners) listener(message);
  }

  private message(): string {
    // `state` is `{"driving":…,"rollouts":[…]}`: splice the version and clock in without a second stringify.
    return `{"version":${this.version},"now":${Date.now()},${this.state.slice(1)}`;
  }
}
