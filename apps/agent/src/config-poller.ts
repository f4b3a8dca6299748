import { sleep } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { type BackoffOptions, backoffDelayMs } from './backoff.js';
import type { CenterClient, ServedConfig } from './center-client.js';

/** Options of the long-poll loop. */
export interface ConfigPollerOptions {
  client: CenterClient;
  logger: Logger;
  /** How long the center may hold one long-poll. */
  waitSec?: number;
  /** Retry delays after network errors (capped exponential, jittered). */
  backoff?: BackoffOptions;
  /** Called with each new config, one at a time; the next poll asks for revisions after it. */
  onConfig(served: ServedConfig): Promise<void>;
  /** Called when the center becomes reachable or unreachable; `error` says why it is not. */
  onReachable?(reachable: boolean, error?: Error): void;
}

/**
 * Long-polls the center for the node's config: one request at a time, each held up to
 * `waitSec`; on errors it retries with capped exponential backoff and jitter so that a fleet of
 * agents does not hammer a center that is coming back.
 */
export class ConfigPoller {
  private after: number | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private failures = 0;
  private reachable: boolean | undefined;

  constructor(private readonly options: ConfigPollerOptions) {}

  /** Starts polling for revisions after `after` (null: take whatever is current). */
  start(after: number | null): void {
    if (this.loop) return;
    this.after = after;
    this.loop = this.run();
  }

  /** Stops polling and aborts the request in flight. Idempotent. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** The newest revision handed to `onConfig`. */
  get revision(): number | null {
    return this.after;
  }

  private async run(): Promise<void> {
    const { client, logger } = this.options;
    const waitSec = this.options.waitSec ?? 30;
    const backoff = this.options.backoff ?? { initialMs: 250, maxMs: 5000, jitter: 0.3 };
    while (!this.abort.signal.aborted) {
      let served: ServedConfig | null;
      try {
        served = await client.fetchConfig(this.after, waitSec, this.abort.signal);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.setReachable(false, error as Error);
        const delayMs = backoffDelayMs(this.failures, backoff);
        this.failures += 1;
        logger.warn(
          { event: 'agent.long_poll_failed', err: error, attempt: this.failures, retry_in_ms: delayMs },
          'config long-poll failed',
        );
        await sleep(delayMs, this.abort.signal);
        continue;
      }
      this.failures = 0;
      this.setReachable(true);
      if (!served) continue;
      this.after = served.revision;
      try {
        await this.options.onConfig(served);
      } catch (error) {
        logger.error(
          { event: 'agent.apply_crashed', err: error, revision: served.revision },
          'applying a config failed unexpectedly',
        );
      }
    }
  }

  private setReachable(reachable: boolean, error?: Error): void {
    if (this.reachable === reachable) return;
    this.reachable = reachable;
    this.options.onReachable?.(reachable, error);
  }
}
