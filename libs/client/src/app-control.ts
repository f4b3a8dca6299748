import type { BroadcastOptions, ControlClient, NodeReply } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { ControlConnection } from './control-connection.js';
import { ClientClosedError } from './errors.js';

/** Which nodes an inspect call asks and how long it waits (Celery's `destination`, `timeout`, `limit`). */
export type InspectOptions = Pick<BroadcastOptions, 'destination' | 'pattern' | 'matcher' | 'timeoutMs' | 'limit'>;

/** Options of `revoke`: Celery's `terminate` and `signal`, plus where and whether to wait for replies. */
export type ControlRevokeOptions = BroadcastOptions & { terminate?: boolean; signal?: string };

/**
 * Celery's `app.control.inspect()`: each method asks the nodes and resolves to `{node: reply}`
 * (`{}` when nobody answered), as Python's does.
 */
export class Inspect {
  constructor(
    private readonly client: () => ControlClient,
    private readonly options: InspectOptions,
  ) {}

  private call(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.client().inspect(method, args, this.options);
  }

  ping() {
    return this.call('ping');
  }
  /** Running tasks; `safe` gives args/kwargs as their reprs. */
  active(safe = false) {
    return this.call('active', { safe });
  }
  /** Prefetched and rate-limited tasks, waiting for a slot. */
  reserved() {
    return this.call('reserved');
  }
  /** Tasks waiting for their eta/countdown. */
  scheduled() {
    return this.call('scheduled');
  }
  registered(...taskinfoitems: string[]) {
    return this.call('registered', { taskinfoitems });
  }
  stats() {
    return this.call('stats');
  }
  activeQueues() {
    return this.call('active_queues');
  }
  revoked() {
    return this.call('revoked');
  }
  conf(withDefaults = false) {
    return this.call('conf', { with_defaults: withDefaults });
  }
  queryTask(...ids: string[]) {
    return this.call('query_task', { ids });
  }
  report() {
    return this.call('report');
  }
  clock() {
    return this.call('clock');
  }
}

/**
 * Celery's `app.control` for a Celeriac app: inspect, ping, rate and time limits, consumers,
 * revoke, shutdown and raw broadcasts, to Python and Celeriac nodes alike, over the app's broker
 * (Redis or RabbitMQ). The connection opens on first use and closes with the app.
 */
export class AppControl {
  private connection: ControlConnection | undefined;
  private closed = false;

  constructor(
    private readonly settings: () => Readonly<Record<string, unknown>>,
    private readonly logger: () => Logger,
  ) {}

  private control(): ControlClient {
    if (this.closed) throw new ClientClosedError('use app.control');
    this.connection ??= new ControlConnection(this.settings(), this.logger());
    return this.connection.client;
  }

  /** `app.control.inspect(destination=...)`. */
  inspect(options: InspectOptions = {}): Inspect {
    return new Inspect(() => this.control(), options);
  }

  /** Sends `command` and collects the replies, one `{node: reply}` per node (Celery's `broadcast`). */
  broadcast(command: string, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<NodeReply[]> {
    return this.run(() => this.control().broadcast(command, args, options));
  }

  /** `[{node: {ok: 'pong'}}, ...]` for every node that answered within the timeout. */
  ping(options: InspectOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('ping', {}, options);
  }

  /** Sets a task's rate limit on the nodes at once (`'10/m'`, `'5/s'`, a number per second, null for none). */
  rateLimit(taskName: string, rateLimit: string | number | null, options: BroadcastOptions = {}) {
    return this.run(() => this.control().rateLimit(taskName, rateLimit, options));
  }

  /** Sets a task's soft and hard time limits in seconds on the nodes. */
  timeLimit(taskName: string, soft: number | null, hard: number | null, options: BroadcastOptions = {}) {
    return this.run(() => this.control().timeLimit(taskName, soft, hard, options));
  }

  addConsumer(queue: string, options: BroadcastOptions = {}) {
    return this.run(() => this.control().addConsumer(queue, options));
  }

  cancelConsumer(queue: string, options: BroadcastOptions = {}) {
    return this.run(() => this.control().cancelConsumer(queue, options));
  }

  /**
   * Revokes tasks fleet-wide: stored in the shared revoked set (a Celeriac worker that starts later
   * drops them too), then broadcast. `terminate` also aborts running ones. A cast unless `reply`.
   */
  revoke(taskIds: string | string[], options: ControlRevokeOptions = {}): Promise<NodeReply[]> {
    return this.run(() => this.control().revoke(taskIds, options));
  }

  /** `revoke(terminate=True)`. */
  terminate(taskIds: string | string[], signal = 'SIGTERM', options: BroadcastOptions = {}) {
    return this.revoke(taskIds, { ...options, terminate: true, signal });
  }

  /** Warm shutdown of the nodes (they send no reply, as in Celery). */
  shutdown(options: BroadcastOptions = {}) {
    return this.run(() => this.control().shutdown(options));
  }

  /** Celery's `pool_grow(n)`: n more tasks at once on the nodes (replies `pool will grow`). */
  poolGrow(n = 1, options: BroadcastOptions = {}) {
    return this.broadcast('pool_grow', { n }, options);
  }

  /** Celery's `pool_shrink(n)`: n fewer tasks at once; a node keeps at least one (else an error reply). */
  poolShrink(n = 1, options: BroadcastOptions = {}) {
    return this.broadcast('pool_shrink', { n }, options);
  }

  enableEvents(options: BroadcastOptions = {}) {
    return this.broadcast('enable_events', {}, options);
  }

  disableEvents(options: BroadcastOptions = {}) {
    return this.broadcast('disable_events', {}, options);
  }

  private run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return call();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes the control connections (if any were opened). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.close();
  }
}
