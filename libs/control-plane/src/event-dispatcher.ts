import type { Logger } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { EventBatch, escapeInString, fieldJson, stringJsonInner } from './event-batch.js';
import type { EventMessage, EventTransport } from './event-transport.js';
import type { TaskEventFields, TaskEventType } from './event-types.js';
import { LamportClock } from './lamport-clock.js';
import { pyFloat, pyJsonDumps } from './py-json.js';
import { RedisEventTransport } from './redis-event-transport.js';
import { EVENT_EXCHANGE, eventRoutingKey } from './wire-names.js';

export interface EventDispatcherOptions {
  /** Broker URL: on Redis its db names the channels (`/<db>.celeryev/...`). */
  url: string;
  /** The node name every event carries (`hostname` field and header). */
  hostname: string;
  logger: Logger;
  /** A command connection to publish on; without one the dispatcher opens its own. */
  redis?: Redis;
  /** Where events go (RabbitMQ's topic exchange, from @celeriac/broker-amqp); Redis PUBLISH on `url` by default. */
  transport?: EventTransport;
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
  /**
   * Events per `task.multi` message (default 400, about 110 KB). Fewer, larger lists cost the
   * worker about 2 µs per task less in a drain than lists of 100 (bench/runtime.md, "Lists of 400").
   */
  batchSize?: number;
  /** Longest a task event waits for its batch (default 10 ms). */
  flushIntervalMs?: number;
}

const WARN_INTERVAL_MS = 5_000;
const DEFAULT_BATCH_SIZE = 400;
/** Full batches held for the flush timer at most. */
const MAX_SEALED = 20;

/**
 * Epoch ms as Python float seconds, `1796172100.051`, from integers: formatting the double
 * `ms / 1000` costs several times more, three times per task. Receivers parse it as a float.
 */
function secondsText(ms: number): string {
  const rest = ms % 1000;
  return `${(ms - rest) / 1000}.${rest < 10 ? '00' : rest < 100 ? '0' : ''}${rest}`;
}

/** Seconds to the microsecond (`0.000123`), from integers; the shortest double text when not finite or large. */
function runtimeText(sec: number): string {
  if (!(sec >= 0 && sec < 1e6)) return fieldJson(sec);
  const micros = Math.round(sec * 1e6);
  const rest = micros % 1_000_000;
  return `${(micros - rest) / 1_000_000}.${String(rest).padStart(6, '0')}`;
}

/** `, "type": "<type>"}`, the end of every event of that type. */
function typeTail(type: string): string {
  return `, "type": "${type}"}`;
}

/**
 * The constant pieces of the hot task events' JSON text, as plain JSON or (`inString`) with every
 * quote escaped, for lists that stand inside the JSON string of kombu's Redis envelope. Constant
 * runs are one piece (the usual `null`s and `0` of a task-received among them): joining a list
 * costs by the piece more than by the byte.
 */
class EventPieces {
  readonly uuid: string;
  readonly name: string;
  readonly args: string;
  readonly kwargs: string;
  /** `", "root_id": null, "parent_id": `, and the same opening a root id. */
  readonly rootIdNull: string;
  readonly rootIdOpen: string;
  readonly rootIdClose: string;
  /** `null, "retries": 0, "eta": null, "expires": null`: parent, retries, eta and expires of a first try. */
  readonly firstTry: string;
  readonly retries: string;
  readonly eta: string;
  readonly expires: string;
  readonly quote: string;
  readonly result: string;
  readonly runtime: string;
  readonly timestamp: string;
  readonly receivedTail: string;
  readonly startedTail: string;
  readonly succeededTail: string;

  constructor(readonly inString: boolean) {
    const q = (json: string) => this.text(json);
    this.uuid = q(', "uuid": "');
    this.name = q('", "name": "');
    this.args = q('", "args": "');
    this.kwargs = q('", "kwargs": "');
    this.rootIdNull = q('", "root_id": null, "parent_id": ');
    this.rootIdOpen = q('", "root_id": "');
    this.rootIdClose = q('", "parent_id": ');
    this.firstTry = q('null, "retries": 0, "eta": null, "expires": null');
    this.retries = q(', "retries": ');
    this.eta = q(', "eta": ');
    this.expires = q(', "expires": ');
    this.quote = q('"');
    this.result = q('", "result": "');
    this.runtime = q('", "runtime": ');
    this.timestamp = q(', "timestamp": ');
    this.receivedTail = q(typeTail('task-received'));
    this.startedTail = q(typeTail('task-started'));
    this.succeededTail = q(typeTail('task-succeeded'));
  }

  /** A string or null field value in this form. */
  nullable(value: string | null): string {
    return value === null ? 'null' : `${this.quote}${stringJsonInner(value, this.inString)}${this.quote}`;
  }

  /** Any JSON text in this form. */
  text(json: string): string {
    return this.inString ? escapeInString(json) : json;
  }
}

/** The ends of the hot events for one ms: `, "timestamp": <s>, "type": "<type>"}` (and the uuid's closing quote for task-started). */
class EventEnds {
  readonly stamp: string;
  readonly received: string;
  readonly started: string;
  readonly succeeded: string;

  constructor(p: EventPieces, ms: number) {
    this.stamp = `${p.timestamp}${secondsText(ms)}`;
    this.received = `${this.stamp}${p.receivedTail}`;
    this.started = `${p.quote}${this.stamp}${p.startedTail}`;
    this.succeeded = `${this.stamp}${p.succeededTail}`;
  }
}

/**
 * Publishes Celery events on the `celeryev` exchange as a Celery 5.2 worker does, through an
 * EventTransport (kombu's Redis PUBLISH by default, or RabbitMQ). Worker events go out at once;
 * task events are appended to `task.multi` lists of `batchSize`, and every list goes out
 * `flushIntervalMs` after the first event (or at once when 20 lists are full), all in one
 * publish call (one round trip on Redis). Lists are written in the form the transport carries
 * them (`EventTransport.bodyInString`: already escaped for kombu's Redis envelope).
 */
export class EventDispatcher {
  readonly clock: LamportClock;
  private readonly transport: EventTransport;
  private readonly headers: Record<string, unknown>;
  /**
   * `{"hostname": "<node>", "utcoffset": <h>, "pid": <pid>, "clock": ` of every task event, in the
   * form of `pieces`: built once (again when the UTC offset changes), so each event adds only its
   * clock and own fields.
   */
  private taskHead = '';
  /** `, ` and `taskHead`: the head of every event of a list but its first. */
  private taskHeadNext = '';
  /** The constant pieces of task events, in the form task-event lists are written in. */
  private readonly pieces: EventPieces;
  private readonly pid = process.pid;
  /** The ends of the events of the last event's ms (its timestamp): events of one ms share them. */
  private endsMs = -1;
  private ends: EventEnds | undefined;
  /** The `task.multi` list being filled. */
  private readonly open = new EventBatch();
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly batch: boolean;
  private taskEventsOn: boolean;
  /** Full lists waiting for the flush timer: they all go out in one publish. */
  private sealed: EventMessage[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private closed = false;
  private dropped = 0;
  private lastWarnAt = 0;
  private offsetHours = 0;
  private offsetCheckedAt = 0;

  constructor(private readonly options: EventDispatcherOptions) {
    this.clock = options.clock ?? new LamportClock();
    this.transport =
      options.transport ??
      new RedisEventTransport({
        url: options.url,
        logger: options.logger,
        ...(options.redis !== undefined ? { redis: options.redis } : {}),
        keyPrefix: options.keyPrefix ?? '',
      });
    this.headers = { hostname: options.hostname };

    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.flushIntervalMs = Math.max(0, options.flushIntervalMs ?? 10);
    this.batch = options.batch ?? true;
    this.taskEventsOn = options.taskEvents ?? false;
    // Events sent alone (batching off) are plain JSON, as worker events are.
    this.pieces = new EventPieces(this.batch && this.transport.bodyInString === true);
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
      this.taskHead = this.pieces.text(
        `{"hostname": ${fieldJson(this.options.hostname)}, "utcoffset": ${this.offsetHours}, "pid": ${this.pid}, "clock": `,
      );
      this.taskHeadNext = `, ${this.taskHead}`;
    }
    return this.offsetHours;
  }

  /**
   * Sends a task event when task events are on; returns whether it was queued. Call it where
   * Celery does (see TaskEventFields); it never throws and never waits. The hot ones have their
   * own methods (`taskReceived`, `taskStarted`, `taskSucceeded`) that skip the fields object.
   */
  sendTask<T extends TaskEventType>(type: T, fields: TaskEventFields[T]): boolean {
    if (!this.taskEventsOn || this.closed) return false;
    let json = '';
    const record = fields as Record<string, unknown>;
    for (const key in record) json += `, "${key}": ${fieldJson(record[key])}`;
    if (!this.batch) {
      const now = Date.now();
      const clock = this.clock.forward();
      const head = this.head(now);
      const event = `${head}${clock}${json}${this.endsOf(now).stamp}${typeTail(type)}`;
      this.track(this.publishMany([{ routingKey: eventRoutingKey(type), body: event }]));
      return true;
    }
    return this.queueTask(this.pieces.text(json), this.pieces.text(typeTail(type)));
  }

  /** `task-received` (fields in Celery's order; `args`/`kwargs` are reprs, `eta`/`expires` ISO 8601 or null). */
  taskReceived(
    uuid: string,
    name: string,
    args: string,
    kwargs: string,
    rootId: string | null,
    parentId: string | null,
    retries: number,
    eta: string | null,
    expires: string | null,
  ): boolean {
    if (!this.taskEventsOn || this.closed) return false;
    if (!this.batch) {
      return this.sendTask('task-received', {
        uuid,
        name,
        args,
        kwargs,
        root_id: rootId,
        parent_id: parentId,
        retries,
        eta,
        expires,
      });
    }
    const now = Date.now();
    const p = this.pieces;
    const inString = p.inString;
    const b = this.startEvent(now);
    b.put(p.uuid);
    b.put(stringJsonInner(uuid, inString));
    b.put(p.name);
    b.put(stringJsonInner(name, inString));
    b.put(p.args);
    b.put(stringJsonInner(args, inString));
    b.put(p.kwargs);
    b.put(stringJsonInner(kwargs, inString));
    if (rootId === null) b.put(p.rootIdNull);
    else {
      b.put(p.rootIdOpen);
      b.put(stringJsonInner(rootId, inString));
      b.put(p.rootIdClose);
    }
    if (parentId === null && retries === 0 && eta === null && expires === null) b.put(p.firstTry);
    else {
      b.put(p.nullable(parentId));
      b.put(p.retries);
      b.put(fieldJson(retries));
      b.put(p.eta);
      b.put(p.nullable(eta));
      b.put(p.expires);
      b.put(p.nullable(expires));
    }
    b.put(this.endsOf(now).received);
    return this.afterTaskEvent();
  }

  /** `task-started`. */
  taskStarted(uuid: string): boolean {
    if (!this.taskEventsOn || this.closed) return false;
    if (!this.batch) return this.sendTask('task-started', { uuid });
    const now = Date.now();
    const p = this.pieces;
    const b = this.startEvent(now);
    b.put(p.uuid);
    b.put(stringJsonInner(uuid, p.inString));
    b.put(this.endsOf(now).started);
    return this.afterTaskEvent();
  }

  /** `task-succeeded`: `result` is the repr of the return value, `runtime` seconds. */
  taskSucceeded(uuid: string, result: string, runtime: number): boolean {
    if (!this.taskEventsOn || this.closed) return false;
    if (!this.batch) return this.sendTask('task-succeeded', { uuid, result, runtime });
    const now = Date.now();
    const p = this.pieces;
    const b = this.startEvent(now);
    b.put(p.uuid);
    b.put(stringJsonInner(uuid, p.inString));
    b.put(p.result);
    b.put(stringJsonInner(result, p.inString));
    b.put(p.runtime);
    b.put(runtimeText(runtime));
    b.put(this.endsOf(now).succeeded);
    return this.afterTaskEvent();
  }

  /** `{"hostname": …, "utcoffset": …, "pid": …, "clock": `, rebuilt when the offset is rechecked. */
  private head(now: number): string {
    if (now - this.offsetCheckedAt > 60_000) this.utcoffset(now);
    return this.taskHead;
  }

  /** The ends of events sent at `now` (in the form of `pieces`), shared by the events of one ms. */
  private endsOf(now: number): EventEnds {
    if (now !== this.endsMs || this.ends === undefined) {
      this.endsMs = now;
      this.ends = new EventEnds(this.pieces, now);
    }
    return this.ends;
  }

  /**
   * One task event into the open list (the `sendTask` path; the hot ones push their pieces).
   * Celery's field order is hostname, utcoffset, pid, clock, the event's fields (`fieldsJson`,
   * each `, "key": value`), timestamp, type (`tail`), all in the form of `pieces`.
   */
  private queueTask(fieldsJson: string, tail: string): boolean {
    const now = Date.now();
    const b = this.startEvent(now);
    b.put(fieldsJson);
    b.put(this.endsOf(now).stamp);
    b.put(tail);
    return this.afterTaskEvent();
  }

  /**
   * Starts a task event in the open list with its head (`{"hostname": …, "clock": <n>`) and
   * returns the list, to `put` the rest of its JSON text: the event's fields, then its timestamp
   * and type (`endsOf(now)`). Written by hand with Python's separators.
   */
  private startEvent(now: number): EventBatch {
    const head = this.head(now);
    const b = this.open;
    b.next(head, this.taskHeadNext);
    b.put(this.clock.forward());
    return b;
  }

  /** After an event went into the open list: seals the list when it is full, and sees that it goes out. */
  private afterTaskEvent(): boolean {
    const b = this.open;
    if (b.count >= this.batchSize) {
      this.sealed.push(this.listMessage());
      // Many full batches (a burst): out now, in one publish call, rather than growing until the timer.
      if (this.sealed.length >= MAX_SEALED) {
        this.drainBuffer();
        return true;
      }
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
    return this.track(this.publishMany([{ routingKey: eventRoutingKey(type), body: pyJsonDumps(event) }]));
  }

  /** Publishes the buffered task events now; resolves when every pending publish settled. */
  async flush(): Promise<void> {
    this.drainBuffer();
    await Promise.all([...this.inFlight]);
  }

  /** Flushes, then closes the transport (a shared connection stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.transport.close();
  }

  /** The open list as its `task.multi` message; the open list is empty after. */
  private listMessage(): EventMessage {
    return { routingKey: 'task.multi', body: this.open.take(), inString: this.pieces.inString };
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
    if (this.open.count > 0) this.sealed.push(this.listMessage());
    if (this.sealed.length === 0) return;
    const batches = this.sealed;
    this.sealed = [];
    this.track(this.publishMany(batches));
  }

  private track(promise: Promise<void>): Promise<void> {
    this.inFlight.add(promise);
    promise.finally(() => this.inFlight.delete(promise));
    return promise;
  }

  private async publishMany(messages: EventMessage[]): Promise<void> {
    try {
      await this.transport.publish(EVENT_EXCHANGE, messages, this.headers);
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
