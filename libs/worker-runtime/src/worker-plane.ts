import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import {
  ControlClient,
  ControlServer,
  type ControlTarget,
  EventDispatcher,
  type EventTransport,
  LamportClock,
  mingle,
  type PidboxClientTransport,
  type PidboxNodeTransport,
  RevokedSet,
  type WorkerCounters,
  WorkerHeart,
} from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { TaskEvents } from './task-events.js';

/**
 * How a plane reaches a broker that is not Redis (RabbitMQ, see amqp-plane-wire.ts): its pidbox
 * and event transports, and the Redis that shares revoked ids, if any.
 */
export interface PlaneWire {
  node: PidboxNodeTransport;
  /** A client transport for mingle (closed with its client). */
  client(): PidboxClientTransport;
  events: EventTransport;
  /** The Redis that shares revoked ids (the result backend's), or null: this worker's memory only. */
  revokeRedisUrl: string | null;
  /** Closes what the transports share (their connection), after they are closed. */
  close(): Promise<void>;
}

/** What a worker's control and event plane needs to exist. */
export interface WorkerPlaneOptions {
  /** The broker URL: on Redis the pidbox and celeryev channels live on the broker's Redis, as in Celery. */
  url: string;
  /** The broker side when it is not the broker's Redis (RabbitMQ). */
  wire?: PlaneWire;
  hostname: string;
  logger: Logger;
  /** Send task events from the start (`-E`, `worker_send_task_events`). */
  taskEvents: boolean;
  /** Celery's heartbeat interval (2 s). */
  heartbeatMs?: number;
  /** kombu's `global_keyprefix` (broker_transport_options): on pidbox and event keys and channels, as kombu puts it. */
  keyPrefix?: string;
  /** How long mingle waits for other nodes' revoked ids at start (Celery: 1 s). */
  mingleTimeoutMs?: number;
}

/** Longest the plane's close may take: the worker's own shutdown deadline still bounds it. */
const CLOSE_TIMEOUT_MS = 3_000;

/**
 * A worker's Celery node identity on the broker: the fleet's revoked ids (`RevokedSet`, loaded
 * before the first message is taken), the event dispatcher (worker events always, task events when
 * on), the heartbeat, and the pidbox server that answers `celery inspect`/`control`. On Redis one
 * command connection is shared by all of them (the pidbox subscriber has its own); with a
 * `wire` (RabbitMQ) the pidbox and events use its transports and only revokes use Redis.
 * `idle` → `start()` → `running` → `close()` → `closed`; every part logs its own state changes.
 */
export class WorkerPlane {
  readonly revoked: RevokedSet;
  readonly events: EventDispatcher;
  readonly taskEvents: TaskEvents;
  readonly clock = new LamportClock();
  private readonly redis: Redis | null;
  private server: ControlServer | null = null;
  private heart: WorkerHeart | null = null;
  private mingling: Promise<void> | null = null;
  private mingleClient: ControlClient | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly o: WorkerPlaneOptions) {
    const revokeUrl = o.wire === undefined ? o.url : o.wire.revokeRedisUrl;
    this.redis = revokeUrl === null ? null : createRedisConnection(revokeUrl, 'control', o.logger);
    // kombu's global_keyprefix belongs to the Redis broker; a result backend's Redis has none.
    const keyPrefix = o.wire === undefined ? (o.keyPrefix ?? '') : '';
    this.revoked = new RevokedSet({ redis: this.redis, logger: o.logger, keyPrefix });
    this.events = new EventDispatcher({
      url: o.url,
      hostname: o.hostname,
      logger: o.logger,
      ...this.connectionOf(o.wire?.events),
      clock: this.clock,
      taskEvents: o.taskEvents,
      keyPrefix: o.keyPrefix ?? '',
    });
    this.taskEvents = new TaskEvents(this.events);
  }

  /** `{ transport }` on a wire, else `{ redis }`: the shared Redis command connection. */
  private connectionOf<T>(transport: T | undefined): { transport: T } | { redis: Redis } | Record<string, never> {
    if (transport !== undefined) return { transport };
    return this.redis === null ? {} : { redis: this.redis };
  }

  /** Loads the revoked ids and starts the pidbox server and the heart; mingle runs on in the background. */
  async start(target: ControlTarget, counters: WorkerCounters): Promise<void> {
    const { logger } = this.o;
    await this.revoked.start();
    this.heart = new WorkerHeart({
      events: this.events,
      counters,
      logger,
      ...(this.o.heartbeatMs !== undefined ? { intervalMs: this.o.heartbeatMs } : {}),
    });
    this.server = new ControlServer({
      url: this.o.url,
      target,
      revoked: this.revoked,
      logger,
      ...this.connectionOf(this.o.wire?.node),
      clock: this.clock,
      events: this.events,
      heart: this.heart,
      keyPrefix: this.o.keyPrefix ?? '',
    });
    await this.server.start();
    await this.heart.start();
    this.mingling = this.mingle();
  }

  /** Celery's mingle: learn the revoked ids of live nodes (Python ones included). Never rejects. */
  private async mingle(): Promise<void> {
    const client = new ControlClient({
      url: this.o.url,
      logger: this.o.logger,
      ...this.connectionOf(this.o.wire?.client()),
      clock: this.clock,
      keyPrefix: this.o.keyPrefix ?? '',
      shareRevokes: false,
    });
    this.mingleClient = client;
    try {
      await mingle({
        client,
        revoked: this.revoked,
        hostname: this.o.hostname,
        clock: this.clock,
        logger: this.o.logger,
        timeoutMs: this.o.mingleTimeoutMs ?? 1_000,
      });
    } catch (err) {
      this.o.logger.warn(
        { event: 'worker.mingle_failed', err },
        'mingle failed; revokes seen only by other nodes may be missed',
      );
    } finally {
      this.mingleClient = null;
      await client.close();
    }
  }

  /**
   * Flushes task events, sends `worker-offline`, unbinds the pidbox and closes the connections,
   * within a few seconds whatever Redis does. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // A worker stopped during its first second does not wait for mingle's replies.
    this.mingleClient?.abort();
    const steps = (async () => {
      await this.mingling;
      // Task events still batched go out before worker-offline: a monitor that saw the node go
      // offline would otherwise count it alive again on the late task events.
      await this.events.flush();
      await this.heart?.stop();
      await this.server?.close();
      await this.events.close();
    })();
    if ((await raceTimeout(steps, CLOSE_TIMEOUT_MS)) === TIMED_OUT) {
      this.o.logger.warn(
        { event: 'worker.control_close_timeout', timeout_ms: CLOSE_TIMEOUT_MS },
        'The control plane did not close in time; closing its connections anyway',
      );
    }
    this.revoked.close();
    await this.o.wire?.close();
    if (this.redis !== null) await closeRedisConnection(this.redis);
  }
}
