import { isAmqpUrl } from '@celeriac/broker-amqp';
import { type Logger, redactUrl } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection, parseRedisUrl, RedisTlsError } from '@celeriac/redis-connection';
import { AmqpTaskEvents } from './amqp-task-events.js';
import { type BrokerSettings, brokerConnectionKey, redisBrokerDialUrl } from './broker-connection-key.js';
import type { HealthTarget } from './health-collector.js';
import { type CumulativeTask, HEALTH_BUCKETS_S, type HealthWindows } from './health-windows.js';
import { isRedisBrokerUrl } from './redis-broker-only.js';

const BUCKETS = HEALTH_BUCKETS_S.length + 1;
/** Tasks between `task-received` and their end that are remembered at most per broker. */
const MAX_OPEN_TASKS = 20_000;

type CeleryEvent = Record<string, unknown> & { type?: unknown; hostname?: unknown; uuid?: unknown };

interface Open {
  name: string;
  received: number;
  started: number;
}

interface Cumulative {
  received: number;
  succeeded: number;
  failed: number;
  retried: number;
  rejected: number;
  revoked: number;
  runtime: { counts: number[]; sum_s: number };
  queue_wait: { counts: number[]; sum_s: number };
}

function bucketOf(seconds: number): number {
  let i = 0;
  while (i < HEALTH_BUCKETS_S.length && seconds > (HEALTH_BUCKETS_S[i] as number)) i++;
  return i;
}

/** Adds one observation to a histogram. */
function record(h: { counts: number[]; sum_s: number }, seconds: number): void {
  const i = bucketOf(seconds);
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum_s += seconds;
}

/** Where one broker's task events come from: a Redis subscriber or a RabbitMQ consumer. */
interface EventSource {
  /** Subscribes again if it lost its subscription (RabbitMQ); never rejects. */
  ensure(): Promise<void>;
  close(): Promise<void>;
}

/** Whether the agent reads Celery task events on `brokerUrl`: Redis and RabbitMQ brokers. */
export function readsTaskEvents(brokerUrl: string): boolean {
  return isRedisBrokerUrl(brokerUrl) || isAmqpUrl(brokerUrl);
}

function emptyCumulative(): Cumulative {
  const hist = () => ({ counts: new Array<number>(BUCKETS).fill(0), sum_s: 0 });
  return {
    received: 0,
    succeeded: 0,
    failed: 0,
    retried: 0,
    rejected: 0,
    revoked: 0,
    runtime: hist(),
    queue_wait: hist(),
  };
}

/**
 * Task health of Python Celery programs from Celery's own task events (`-E` /
 * `worker_send_task_events`): one subscriber per broker and connection settings, on Redis to the
 * celeryev fanout (`/<db>.celeryev/task.*`, what `celery events` reads; TLS, Sentinel and failover
 * from the program's settings), on RabbitMQ a `celeryev.<uuid>` queue on
 * the `celeryev` topic exchange (amqp-task-events.ts), counting per worker and task name
 * received, succeeded, failed, retried, rejected, revoked, the runtime (`task-succeeded`'s
 * `runtime`, else started → end) and the wait from received to started. The agent renders
 * `worker_send_task_events = True` for its Python programs (CELERY_WORKER_DEFAULTS); workers that
 * send no task events (a layer's `false`) are left to `inspect stats` (health-collector.ts).
 */
export class CeleryEventHealth {
  private readonly subscribers = new Map<string, EventSource>();
  /** Celery node name → program, for the Python targets being served. */
  private programs = new Map<string, string>();
  private readonly open = new Map<string, Open>();
  private readonly counts = new Map<string, Map<string, Cumulative>>();

  constructor(
    private readonly windows: HealthWindows,
    private readonly logger: Logger,
  ) {}

  /** True once task events arrived from this Celery node. */
  sends(name: string): boolean {
    return this.counts.has(name);
  }

  /** Follows the brokers of the Python targets now served; adds what arrived since the last call. */
  async sync(targets: (HealthTarget & { brokerUrl: string })[], keyPrefix = ''): Promise<void> {
    // Task events are read on Redis and RabbitMQ; Python workers on any other broker are left out
    // (the worker probe already said once that it does not reach them).
    const python = targets.filter((t) => t.kind === 'celery-worker' && readsTaskEvents(t.brokerUrl));
    this.programs = new Map(python.map((t) => [t.name, t.program]));
    // One subscriber per broker connection (URL and its TLS and other connection settings) and key
    // prefix (kombu prefixes Redis's event channels too).
    const wanted = new Map<string, HealthTarget & { brokerUrl: string }>(
      python.map((t) => [`${keyPrefix}|${brokerConnectionKey(t.brokerUrl, t.brokerSettings)}`, t]),
    );
    for (const [key, source] of this.subscribers) {
      if (wanted.has(key)) continue;
      this.subscribers.delete(key);
      await source.close();
    }
    for (const [key, { brokerUrl: url, brokerSettings }] of wanted) {
      const source = this.subscribers.get(key);
      if (source !== undefined) await source.ensure();
      else if (isAmqpUrl(url)) await this.consume(key, url, brokerSettings ?? {});
      else await this.subscribe(key, url, brokerSettings ?? {}, keyPrefix);
    }
    const now = Date.now();
    for (const [name, tasks] of this.counts) {
      const program = this.programs.get(name);
      if (program === undefined) continue;
      const report: Record<string, CumulativeTask> = {};
      for (const [task, c] of tasks) report[task] = c;
      // Counted by this agent from zero: never a baseline.
      this.windows.observe(
        { program, key: `${program}:${name}:events`, source: 'task_events', ageMs: 0, tasks: report },
        now,
      );
    }
    for (const name of [...this.counts.keys()]) if (!this.programs.has(name)) this.counts.delete(name);
  }

  /** Subscribes to the task events of a Redis broker, dialled with the program's settings as its worker does. */
  private async subscribe(key: string, url: string, settings: BrokerSettings, keyPrefix: string): Promise<void> {
    try {
      const dialUrl = redisBrokerDialUrl(url, settings);
      const db = parseRedisUrl(dialUrl, { setting: 'broker_url' }).db;
      const redis = createRedisConnection(dialUrl, 'agent-events', this.logger);
      redis.on('pmessage', (_pattern: string, _channel: string, message: string) => this.onMessage(message));
      // ioredis subscribes again by itself after a reconnect.
      this.subscribers.set(key, { ensure: async () => undefined, close: () => closeRedisConnection(redis) });
      // A refused certificate ends the connection, and the subscribe then fails with only
      // "Connection is closed.": the connect's own error says why.
      let refused: RedisTlsError | undefined;
      const connecting = redis.connect().catch((error: unknown) => {
        if (error instanceof RedisTlsError) refused = error;
      });
      try {
        await redis.psubscribe(`${keyPrefix}/${db}.celeryev/task.*`);
      } catch (error) {
        await connecting;
        throw refused ?? error;
      }
    } catch (err) {
      this.logger.warn(
        { event: 'agent.task_events_unavailable', broker: redactUrl(url), err },
        'cannot subscribe to Celery task events; Python programs report inspect stats totals only',
      );
    }
  }

  /** Consumes the task events of a RabbitMQ broker. */
  private async consume(key: string, url: string, settings: BrokerSettings): Promise<void> {
    const source = new AmqpTaskEvents(
      url,
      this.logger,
      (events) => {
        for (const e of events) if (e !== null && typeof e === 'object') this.onEvent(e as CeleryEvent);
      },
      settings,
    );
    this.subscribers.set(key, source);
    await source.ensure();
  }

  private onMessage(message: string): void {
    let events: CeleryEvent[];
    try {
      const envelope = JSON.parse(message) as { body?: string; properties?: { body_encoding?: string } };
      // kombu's envelope: the body in base64, or without body_encoding the text itself (celeriac's task.multi).
      const text =
        envelope.properties?.body_encoding === 'base64'
          ? Buffer.from(envelope.body ?? '', 'base64').toString('utf8')
          : (envelope.body ?? '');
      const body = JSON.parse(text) as CeleryEvent | CeleryEvent[];
      events = Array.isArray(body) ? body : [body];
    } catch {
      return;
    }
    for (const e of events) this.onEvent(e);
  }

  private onEvent(e: CeleryEvent): void {
    const host = typeof e.hostname === 'string' ? e.hostname : undefined;
    const uuid = typeof e.uuid === 'string' ? e.uuid : undefined;
    if (host === undefined || uuid === undefined || !this.programs.has(host)) return;
    const ts = typeof e.timestamp === 'number' ? e.timestamp : Date.now() / 1000;
    if (e.type === 'task-received') {
      const name = typeof e.name === 'string' ? e.name : '(unknown)';
      if (this.open.size >= MAX_OPEN_TASKS) this.open.delete(this.open.keys().next().value as string);
      this.open.set(uuid, { name, received: ts, started: 0 });
      this.cumulative(host, name).received++;
      return;
    }
    const task = this.open.get(uuid);
    if (task === undefined) return;
    const c = this.cumulative(host, task.name);
    switch (e.type) {
      case 'task-started': {
        task.started = ts;
        const wait = Math.max(0, ts - task.received);
        record(c.queue_wait, wait);
        return;
      }
      case 'task-succeeded':
      case 'task-failed':
      case 'task-retried': {
        const given = typeof e.runtime === 'number' ? e.runtime : undefined;
        const runtime = given ?? (task.started > 0 ? Math.max(0, ts - task.started) : undefined);
        if (runtime !== undefined) {
          record(c.runtime, runtime);
        }
        if (e.type === 'task-succeeded') c.succeeded++;
        else if (e.type === 'task-failed') c.failed++;
        else c.retried++;
        this.open.delete(uuid);
        return;
      }
      case 'task-rejected':
        c.rejected++;
        this.open.delete(uuid);
        return;
      case 'task-revoked':
        c.revoked++;
        this.open.delete(uuid);
        return;
    }
  }

  private cumulative(host: string, name: string): Cumulative {
    let tasks = this.counts.get(host);
    if (!tasks) {
      tasks = new Map();
      this.counts.set(host, tasks);
    }
    let c = tasks.get(name);
    if (!c) {
      c = emptyCumulative();
      tasks.set(name, c);
    }
    return c;
  }

  /** Closes the subscriptions. */
  async close(): Promise<void> {
    const all = [...this.subscribers.values()];
    this.subscribers.clear();
    await Promise.all(all.map((source) => source.close()));
  }
}
