import type { Logger } from '@celeriac/logger';

/**
 * The connection's states: `new` → `connected` (start) ⇄ `reconnecting` (lost, retrying with
 * kombu's sleeps) → `failed` (retry off or its retries spent); `closed` from any.
 */
export type AmqpConnectionState = 'new' | 'connected' | 'reconnecting' | 'failed' | 'closed';

/** What `onConnectionChange` listeners get: every state change, with the error of a loss or failure. */
export interface AmqpConnectionChange {
  state: AmqpConnectionState;
  /** The generation of the session now live (1 for the first connection). */
  generation: number;
  /** The URL connected to (redacted), when `connected`. */
  url?: string;
  error?: Error;
}

/**
 * The one state of an `AmqpBroker`'s connection: every transition logged
 * (`broker.amqp_state`) and told to the listeners, and the outage (`reconnecting`) as a promise
 * that settles when it ends, whichever way.
 */
export class AmqpConnectionStatus {
  private value: AmqpConnectionState = 'new';
  private readonly listeners = new Set<(change: AmqpConnectionChange) => void>();
  private outage: { promise: Promise<void>; end: () => void } | null = null;

  constructor(private readonly logger: Logger) {}

  get state(): AmqpConnectionState {
    return this.value;
  }

  /** Calls `listener` on every change; returns the unsubscribe. */
  onChange(listener: (change: AmqpConnectionChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Moves to `state` (nothing when already there). */
  set(state: AmqpConnectionState, generation: number, extra: { error?: Error; url?: string } = {}): void {
    const previous = this.value;
    if (previous === state) return;
    this.value = state;
    if (state === 'reconnecting') {
      let end: () => void = () => {};
      const promise = new Promise<void>((resolve) => {
        end = resolve;
      });
      this.outage = { promise, end };
    } else {
      this.outage?.end();
      this.outage = null;
    }
    const { error: err, url } = extra;
    this.logger.debug(
      {
        event: 'broker.amqp_state',
        state,
        previous,
        generation,
        ...(url !== undefined ? { url } : {}),
        ...(err !== undefined ? { err } : {}),
      },
      `RabbitMQ connection ${previous} -> ${state}`,
    );
    const change: AmqpConnectionChange = { state, generation, ...extra };
    for (const listener of this.listeners) listener(change);
  }

  /** Resolves when the outage under way ends (connected, failed or closed); at once when there is none. */
  outageOver(): Promise<void> {
    return this.outage?.promise ?? Promise.resolve();
  }
}
