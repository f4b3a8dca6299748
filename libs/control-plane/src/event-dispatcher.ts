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
/** Full batches held for the flush timer at most. */
const MAX_SEALED = 20;

/** Characters JSON must escape (and lone surrogates): a string without them is written as is. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON of one task-event field value, without JSON.stringify for the usual strings and numbers. */
function fieldJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'null';
    default:
      return value === null ? 'null' : JSON.stringify(value);
  }
}

/**
 * Publishes Celery events on the `celeryev` exchange exactly as kombu's Redis transport does: a
 * PUBLISH of a kombu envelope on `/<db>.celeryev/<routing key>`. Worker events go out at once;
 * task events are appended to `task.multi` lists of `batchSize`, and every list goes out
 * `flushIntervalMs` after the first event (or at once when 20 lists are full), all in one
 * pipeline (one round trip).
 */
export class EventDispatcher {
  readonly clock: LamportClock;
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private readonly db: number;
  private readonly keyPrefix: string;
  private readonly headers: Record<string, unknown>;
  /** `{"hostname": "<node>", "utcoffset": ` of every task event, built once. */
  private readonly taskPrefix: string;
  private readonly pid = process.pid;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly batch: boolean;
  private taskEventsOn: boolean;
  /** The batch being filled: `[` and its events so far (no closing bracket), `openCount` of them. */
  private open = '';
  private openCount = 0;
  /** Full batches (`[...]`) waiting for the flush timer: they all go out in one pipeline. */
  private sealed: string[] = [];
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
    this.taskPrefix = `{"hostname": ${fieldJson(options.hostname)}, "utcoffset": `;
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
    // Written by hand (Python's separators): a third of the cost of building an object for JSON.stringify.
    // Appended to the open batch as it is built: no string per event, no join.
    let json = this.batch ? (this.openCount === 0 ? '[' : this.open + ', ') : '';
    json += `${this.taskPrefix}${this.utcoffset(now)}, "pid": ${this.pid}, "clock": ${this.clock.forward()}`;
    const record = fields as Record<string, unknown>;
    for (const key in record) json += `, "${key}": ${fieldJson(record[key])}`;
    json += `, "timestamp": ${now / 1000}, "type": "${type}"}`;
    if (!this.batch) {
      this.track(this.publishMany([[eventRoutingKey(type), json]]));
      return true;
    }
    if (++this.openCount >= this.batchSize) {
      this.sealed.push(`${json}]`);
      this.open = '';
      this.openCount = 0;
      // Many full batches (a burst): out now, in one pipeline, rather than growing until the timer.
      if (this.sealed.length >= MAX_SEALED) {
        this.drainBuffer();
        return true;
      }
    } else {
      this.open = json;
    }
    this.flushSoon(this.flushIntervalMs);
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
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.drainBuffer();
    }, delayMs);
  }

  private drainBuffer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.openCount > 0) this.sealed.push(`${this.open}]`);
    this.open = '';
    this.openCount = 0;
    if (this.sealed.length === 0) return;
    const batches = this.sealed.map((body): [string, string] => ['task.multi', body]);
    this.sealed = [];
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
