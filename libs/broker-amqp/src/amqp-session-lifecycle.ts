import { BrokerClosedError, BrokerError } from '@celeriac/broker';
import { type Logger, redactUrl } from '@celeriac/logger';
import { type AmqpConnectionChange, type AmqpConnectionState, AmqpConnectionStatus } from './amqp-connection-status.js';
import { type AmqpEndpoints, connectFirst } from './amqp-connector.js';
import { AmqpError } from './amqp-errors.js';
import { type AmqpReconnectPolicy, reconnectSleepMs } from './amqp-reconnect.js';
import { AmqpSession } from './amqp-session.js';
import { coalesceWrites } from './coalesced-writes.js';

/** Sessions a publish is tried on before its error is given up to the caller. */
const PUBLISH_ATTEMPTS = 5;

/** What the broker does at the turns of a session's life. */
export interface AmqpSessionHooks {
  /** Everything declared and consumed before, declared and consumed again on the new session `s`. */
  setUp(s: AmqpSession): Promise<void>;
  /** A new session failed before it went live: forget what it delivered meanwhile (it goes back to RabbitMQ with it). */
  abandoned(): void;
  /** The live session died: hand its deliveries to the orphans; returns how many orphans there are. */
  lost(): number;
  /** Wakes whatever waits on the session (a loss, a reconnect, a failure, the close). */
  wake(): void;
}

/**
 * The broker's RabbitMQ connection over its lives: connects (the first URL of the failover list
 * that answers), notices a loss of the connection or of a channel, reconnects (the failover list
 * in `broker_failover_strategy` order, kombu's 2, 4 ... 30 s sleeps, at most
 * `broker_connection_max_retries`) or fails for good, and hands the live session to the callers.
 */
export class AmqpSessionLifecycle {
  private readonly status: AmqpConnectionStatus;
  private session: AmqpSession | null = null;
  private generation = 0;
  private failure: Error | null = null;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly endpoints: AmqpEndpoints,
    private readonly policy: AmqpReconnectPolicy,
    private readonly logger: Logger,
    private readonly hooks: AmqpSessionHooks,
  ) {
    this.status = new AmqpConnectionStatus(logger);
  }

  /** The connection's state (see `AmqpConnectionState`). */
  get state(): AmqpConnectionState {
    return this.status.state;
  }

  /** The session last gone live, lost or not; null before the start and after the close. */
  get current(): AmqpSession | null {
    return this.session;
  }

  /** Calls `listener` on every state change; returns the unsubscribe. */
  onChange(listener: (change: AmqpConnectionChange) => void): () => void {
    return this.status.onChange(listener);
  }

  /** Resolves when a reconnect is over, well or not. */
  outageOver(): Promise<void> {
    return this.status.outageOver();
  }

  private setState(state: AmqpConnectionState, extra: { error?: Error; url?: string } = {}): void {
    this.status.set(state, this.generation, extra);
  }

  /**
   * Opens the first session; false when already started. BROKER_CLOSED after the close,
   * BROKER_UNAVAILABLE when no RabbitMQ can be reached, AMQP_TLS_CERTIFICATE when TLS refused the server.
   */
  async start(): Promise<boolean> {
    if (this.status.state === 'closed') throw new BrokerClosedError('start', 'closed');
    if (this.status.state !== 'new') return false;
    try {
      await this.openSession(0);
    } catch (error) {
      throw error instanceof AmqpError ? error : this.unavailable('connect', error);
    }
    this.setState('connected', { url: this.currentUrl() });
    return true;
  }

  /** The URL of the current session (of the first in the list before any), password redacted. */
  currentUrl(): string {
    return redactUrl(this.endpoints.urls[this.session?.urlIndex ?? 0] as string);
  }

  /**
   * A new session: connect, channels, qos, and everything declared and consumed before declared and
   * consumed again. It becomes the live one only once all that is done; a loss meanwhile fails it.
   */
  private async openSession(startIndex: number): Promise<void> {
    const { connection, index } = await connectFirst(this.endpoints, startIndex);
    if (!coalesceWrites(connection)) {
      this.logger.debug(
        { event: 'broker.amqp_writes_not_coalesced' },
        "This amqplib's connection is not shaped as expected: frames go out one socket write each",
      );
    }
    const s = await AmqpSession.open(this.generation + 1, connection, index);
    s.connection.on('error', (err: Error) => this.lose(s, err));
    s.connection.on('close', (err?: Error) => this.lose(s, err ?? new Error('connection closed')));
    s.consume.on('error', (err: Error) => this.lose(s, err));
    s.publish.on('error', (err: Error) => this.lose(s, err));
    s.consume.on('close', () => this.lose(s, new Error('consume channel closed')));
    s.publish.on('close', () => this.lose(s, new Error('confirm channel closed')));
    this.generation = s.generation;
    try {
      await this.hooks.setUp(s);
      if (s.lost) throw new Error('the connection was lost while it was being set up');
    } catch (error) {
      s.lost = true;
      // What it delivered meanwhile goes back to RabbitMQ with it.
      this.hooks.abandoned();
      await s.close();
      throw error;
    }
    this.session = s;
  }

  /** The session `s` died: hand its deliveries to the orphans, then reconnect (or fail, per the retry policy). */
  lose(s: AmqpSession, err: Error): void {
    s.noteLoss(err);
    if (s.lost) return;
    s.lost = true;
    if (this.session !== s || this.status.state === 'closed') return;
    // Delivered and not handed out: RabbitMQ gives them again; handed out: orphans.
    const orphans = this.hooks.lost();
    void s.close();
    // Logged once the close has run its course (a connection closes its channels before it
    // reports its own reason); a warning, as Celery's consumer logs it: reconnecting is normal.
    setImmediate(() =>
      this.logger.warn(
        { event: 'broker.amqp_connection_lost', url: this.currentUrl(), orphans, err: s.lossReason ?? err },
        'The RabbitMQ connection or channel was lost; unacked messages return to their queues; reconnecting',
      ),
    );
    this.hooks.wake();
    if (!this.policy.retry) {
      this.fail(new Error('broker_connection_retry is off, not reconnecting', { cause: err }));
      return;
    }
    this.setState('reconnecting', { error: err });
    this.retry((s.urlIndex + 1) % this.endpoints.urls.length, 0);
  }

  private retry(startIndex: number, retries: number): void {
    this.openSession(startIndex).then(
      () => {
        if (this.status.state === 'closed') {
          void this.session?.close();
          return;
        }
        this.logger.info(
          { event: 'broker.amqp_reconnected', url: this.currentUrl(), retries, generation: this.generation },
          'Reconnected to RabbitMQ; queues declared and consumed again',
        );
        this.setState('connected', { url: this.currentUrl() });
        this.hooks.wake();
      },
      (error: unknown) => {
        if (this.status.state === 'closed') return;
        const err = error instanceof Error ? error : new Error(String(error));
        const max = this.policy.maxRetries;
        if (error instanceof AmqpError || (max !== null && retries >= max)) {
          const why =
            error instanceof AmqpError
              ? err.message
              : `gave up after ${retries} retries (broker_connection_max_retries = ${max})`;
          this.fail(new Error(why, { cause: err }));
          return;
        }
        const sleepMs = reconnectSleepMs(retries + 1);
        this.logger.warn(
          { event: 'broker.amqp_reconnect_retry', retries: retries + 1, max_retries: max, sleep_ms: sleepMs, err },
          `Cannot reconnect to RabbitMQ: ${err.message}. Trying again in ${sleepMs / 1000} s (${retries + 1}/${max ?? 'forever'})`,
        );
        this.retryTimer = setTimeout(() => this.retry(startIndex, retries + 1), sleepMs);
      },
    );
  }

  private fail(error: Error): void {
    this.failure = this.unavailable('reconnect', error);
    this.logger.error(
      { event: 'broker.amqp_connection_failed', url: this.currentUrl(), err: error },
      `RabbitMQ connection lost for good: ${error.message}`,
    );
    this.setState('failed', { error: this.failure });
    this.hooks.wake();
  }

  private unavailable(operation: string, cause: unknown): BrokerError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const urls = this.endpoints.urls.map((u) => redactUrl(u)).join(';');
    return new BrokerError(
      'BROKER_UNAVAILABLE',
      `broker ${operation} failed: RabbitMQ at ${urls} is unavailable (${detail}); ` +
        'check that RabbitMQ runs, the vhost exists and the user may use it',
      { cause },
    );
  }

  /** The live session, waiting out a reconnect; BROKER_CLOSED / BROKER_UNAVAILABLE when there will be none. */
  async live(operation: string): Promise<AmqpSession> {
    for (;;) {
      if (this.status.state === 'new') throw new BrokerClosedError(operation, 'not started');
      if (this.status.state === 'closed') throw new BrokerClosedError(operation, 'closed');
      if (this.status.state === 'failed') throw this.unavailable(operation, this.failure);
      const s = this.session;
      if (this.status.state === 'connected' && s !== null && !s.lost) return s;
      if (this.status.state !== 'reconnecting') throw this.unavailable(operation, new Error('not connected'));
      await this.status.outageOver();
    }
  }

  /** The live session without waiting: the consumer backs off on BROKER_UNAVAILABLE while reconnecting. */
  liveNow(operation: string): AmqpSession {
    if (this.status.state === 'new') throw new BrokerClosedError(operation, 'not started');
    if (this.status.state === 'closed') throw new BrokerClosedError(operation, 'closed');
    const s = this.session;
    if (this.status.state !== 'connected' || s === null || s.lost) {
      throw this.unavailable(operation, this.failure ?? new Error('reconnecting'));
    }
    return s;
  }

  /**
   * Runs `op` on the live session; when that session dies under it (a lost confirm), again on the
   * next one: at-least-once, a message RabbitMQ confirmed is never lost (it may be stored twice).
   */
  async onLive<T>(operation: string, op: (s: AmqpSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const s = await this.live(operation);
      try {
        return await op(s);
      } catch (error) {
        if (!s.lost || attempt >= PUBLISH_ATTEMPTS || this.status.state === 'closed') throw error;
        this.logger.warn(
          { event: 'broker.amqp_publish_retry', operation, attempt, err: error },
          'The RabbitMQ connection was lost before the confirm; sending again once reconnected',
        );
      }
    }
  }

  /** Closes the connection; messages delivered and not acked go back to their queues (idempotent). */
  async close(): Promise<void> {
    if (this.status.state === 'closed') return;
    clearTimeout(this.retryTimer);
    this.setState('closed');
    this.hooks.wake();
    const s = this.session;
    this.session = null;
    if (s !== null && !s.lost) {
      s.lost = true;
      await s.close();
    }
  }
}
