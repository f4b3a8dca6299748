import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import type { TaskEventFields, TaskEventType } from './event-types.js';
import { encodeEnvelope } from './kombu-envelope.js';
import { LamportClock } from './lamport-clock.js';
import { pyFloat, pyJsonDumps } from './py-json.js';
import { EVENT_EXCHANGE, eventRoutingKey, fanoutChannel, redisDbFromUrl } from './wire-names.js';

export interface EventDispatcherOptions {
  /** Broker URL: its db names the channels (`/<db>.celeryev/...`). */
  url: string;
  /** The node name every event carries (`hostname` field and header). */
  hostname: string;
  logger: Logger;
  /** A command connection to publish on; without one the dispatcher opens its own. */
  redis?: Redis;
  /** The worker's clock, shared with the ControlServer. */
  clock?: LamportClock;
  keyPrefix?: string;
  /** Send task events (`-E`, `worker_send_task_events`); worker events are always sent. */
  taskEvents?: boolean;
  /**
   * Batch task events into `task.multi` lists as a Celery worker does (default). Off: each task
   * event goes out alone on its own routing key (`task.sent`), as a Python client sends `task-sent`.
   */
  batch?: boolean;
  /** Events per `task.multi` message (default 100). */
  batchSize?: number;
  /** Longest a task event waits for its batch (default 10 ms). */
  flushIntervalMs?: number;
}

const WARN_INTERVAL_MS = 5_000;

/**
 * Publishes Celery events on the `celeryev` exchange exactly as kombu's Redis transport does: a
 * PUBLISH of a kombu envelope on `/<db>.celeryev/<routing key>`. Worker events go out at once;
 * task events are buffered and flushed as `task.multi` lists, every `batchSize` events or
 * `flushIntervalMs` after the first, all pending batches in one pipeline (one round trip).
 */
export class EventDispatcher {
  readonly clock: LamportClock;
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private readonly db: number;
  private readonly keyPrefix: string;
  private readonly headers: Record<string, unknown>;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly batch: boolean;
  private taskEventsOn: boolean;
  private buffer: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private closed = false;
  private dropped = 0;
  private lastWarnAt = 0;
  private offsetHours = 0;
  private offsetCheckedAt = 0;

  constructor(private readonly options: EventDispatcherOptions) {
    this.clock = options.clock ?? new LamportClock();
    this.ownsRedis = options.redis === undefined;
    this.redis = options.redis ?? createRedisConnection(options.url, 'events', options.logger);
    this.db = redisDbFromUrl(options.url);
    this.keyPrefix = options.keyPrefix ?? '';
    this.headers = { hostname: options.hostname };
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.flushIntervalMs = Math.max(0, options.flushIntervalMs ?? 10);
    this.batch = options.batch ?? true;
    this.taskEventsOn = options.taskEvents ?? false;
  }

  get hostname(): string {
    return this.options.hostname;
  }

  get taskEventsEnabled(): boolean {
    return this.taskEventsOn;
  }

  /** Turns task events on (`enable_events`); false when they were on already. */
  enableTaskEvents(): boolean {
    if (this.taskEventsOn) return false;
    this.taskEventsOn = true;
    this.options.logger.info({ event: 'control.task_events.state', enabled: true }, 'task events enabled');
    return true;
  }

  /** Turns task events off (`disable_events`); false when they were off already. */
  disableTaskEvents(): boolean {
    if (!this.taskEventsOn) return false;
    this.taskEventsOn = false;
    this.options.logger.info({ event: 'control.task_events.state', enabled: false }, 'task events disabled');
    return true;
  }

  /** Python's `utcoffset()`: hours west of UTC (`time.timezone // 3600`), rechecked every minute. */
  private utcoffset(now: number): number {
    if (now - this.offsetCheckedAt > 60_000) {
      this.offsetHours = Math.floor(new Date(now).getTimezoneOffset() / 60);
      this.offsetCheckedAt = now;
    }
    return this.offsetHours;
  }

  /**
   * Sends a task event when task events are on; returns whether it was queued. Call it where
   * Celery does (see TaskEventFields); it never throws and never waits.
   */
  sendTask<T extends TaskEventType>(type: T, fields: TaskEventFields[T]): boolean {
    if (!this.taskEventsOn || this.closed) return false;
    const now = Date.now();
    // Celery's field order: hostname, utcoffset, pid, clock, the event's fields, timestamp, type.
    const event = {
      hostname: this.options.hostname,
      utcoffset: this.utcoffset(now),
      pid: process.pid,
      clock: this.clock.forward(),
      ...fields,
      timestamp: now / 1000,
      type,
    };
    const json = JSON.stringify(event);
    if (!this.batch) {
      this.track(this.publishMany([[eventRoutingKey(type), json]]));
      return true;
    }
    this.buffer.push(json);
    if (this.buffer.length >= this.batchSize) this.flushSoon(0);
    else this.flushSoon(this.flushIntervalMs);
    return true;
  }

  /**
   * Sends a worker (or any non-task) event at once, Python-formatted (`freq: 2.0`). Resolves once
   * published; never rejects (a failure is logged and the event dropped, as events are best effort).
   */
  send(type: string, fields: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = Date.now();
    const event = {
      hostname: this.options.hostname,
      utcoffset: this.utcoffset(now),
      pid: process.pid,
      clock: this.clock.forward(),
      ...fields,
      timestamp: pyFloat(now / 1000),
      type,
    };
    return this.track(this.publishMany([[eventRoutingKey(type), pyJsonDumps(event)]]));
  }

  /** Publishes the buffered task events now; resolves when every pending publish settled. */
  async flush(): Promise<void> {
    this.drainBuffer();
    await Promise.all([...this.inFlight]);
  }

  /** Flushes, then closes its own connection (a shared one stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.ownsRedis) await closeRedisConnection(this.redis);
  }

  private flushSoon(delayMs: number): void {
    if (delayMs === 0) {
      if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.drainBuffer();
      return;
    }
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.drainBuffer();
    }, delayMs);
  }

  private drainBuffer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length === 0) return;
    const events = this.buffer;
    this.buffer = [];
    const batches: Array<[string, string]> = [];
    for (let i = 0; i < events.length; i += this.batchSize) {
      batches.push(['task.multi', `[${events.slice(i, i + this.batchSize).join(', ')}]`]);
    }
    this.track(this.publishMany(batches));
  }

  private track(promise: Promise<void>): Promise<void> {
    this.inFlight.add(promise);
    promise.finally(() => this.inFlight.delete(promise));
    return promise;
  }

  private async publishMany(messages: Array<[routingKey: string, bodyJson: string]>): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const [routingKey, bodyJson] of messages) {
      const envelope = encodeEnvelope(undefined, {
        exchange: EVENT_EXCHANGE,
        routingKey,
        headers: this.headers,
        deliveryMode: 1,
        bodyJson,
      });
      pipeline.publish(fanoutChannel(this.db, EVENT_EXCHANGE, routingKey, this.keyPrefix), envelope);
    }
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) throw failed[0];
    } catch (err) {
      this.dropped += messages.length;
      const now = Date.now();
      if (now - this.lastWarnAt >= WARN_INTERVAL_MS) {
        this.lastWarnAt = now;
        this.options.logger.warn(
          { event: 'control.events_publish_failed', dropped_messages: this.dropped, err },
          'could not publish events; they are dropped (events are best effort)',
        );
      }
    }
  }
}
