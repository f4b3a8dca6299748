import { AmqpControlConnection, AmqpPidboxClient, amqpPlaneSettings, isAmqpUrl } from '@celeriac/broker-amqp';
import type { ProgramStatus } from '@celeriac/config-schema';
import { ControlClient } from '@celeriac/control-plane';
import { type Logger, redactUrl } from '@celeriac/logger';
import { type BrokerSettings, brokerConnectionKey, redisBrokerDialUrl } from './broker-connection-key.js';
import { HealthCollector } from './health-collector.js';
import { isRedisBrokerUrl, NotRedisNotice } from './redis-broker-only.js';
import { RedisProbeClient } from './redis-probe-client.js';

/** One worker process to probe: its program, its `-n` node name and its broker. */
export interface ProbeTarget {
  program: string;
  name: string;
  brokerUrl: string;
  /**
   * The program's effective Celery settings: the probe's and the task events' connections read
   * them as the worker does. On RabbitMQ `broker_use_ssl`, `broker_failover_strategy`,
   * `broker_heartbeat` and `broker_connection_timeout`; on Redis `broker_use_ssl`,
   * `broker_transport_options` (master_name, sentinel_kwargs) and `broker_failover_strategy`.
   */
  brokerSettings?: BrokerSettings | undefined;
  /** For task health (health-collector.ts): the program kind, the process and its health file. */
  kind?: string;
  pid?: number;
  healthFile?: string | undefined;
  /** celery-worker only: false when its layers turned task events off. */
  sendsTaskEvents?: boolean | undefined;
}

type WorkerHealth = NonNullable<ProgramStatus['workers']>[string];

export interface WorkerProbeOptions {
  logger: Logger;
  /** The workers serving now (ready replicas of celeriac and celery worker programs). */
  targets(): ProbeTarget[];
  /** Something in the health view changed (a worker stopped or started answering). */
  onChange(): void;
  /** Time between probes; default 5 s. */
  intervalMs?: number;
  /** How long one probe waits for replies; default 1 s. */
  timeoutMs?: number;
  /** Missed probes in a row before a worker counts as not responding; default 2. */
  missesAllowed?: number;
  /** How long a Redis connection whose TLS was refused is kept before the probe dials anew; default 60 s. */
  redialRefusedTlsMs?: number;
  /** `broker_transport_options.global_keyprefix` of the config in force (kombu prefixes pidbox and event channels too). */
  keyPrefix?(): string;
}

interface Tracked extends WorkerHealth {
  program: string;
  misses: number;
}

/** Number of tasks in an `inspect active`/`reserved` reply of one node, or undefined. */
function count(reply: Record<string, unknown>, name: string): number | undefined {
  const list = reply[name];
  return Array.isArray(list) ? list.length : undefined;
}

/** A probe's ControlClient for one broker connection: `ready()` rejects while that connection cannot be made. */
interface ProbeConnection {
  ready(): Promise<ControlClient>;
  close(): Promise<void>;
}

/**
 * A probe's ControlClient on RabbitMQ: kombu's pidbox exchanges through a control connection of
 * its own (named so in `rabbitmqctl list_connections`). The reply queue is the client's own, so
 * Celery's default `control_queue_ttl`/`control_queue_expires` do for it whatever the workers set.
 */
function amqpControlClient(url: string, settings: BrokerSettings, logger: Logger): ProbeConnection {
  const { heartbeatSec: _heartbeat, ...queues } = amqpPlaneSettings({});
  const connection = new AmqpControlConnection({
    url,
    settings,
    logger,
    connectionName: 'celeriac agent worker probe',
  });
  const transport = new AmqpPidboxClient({ connection, logger, ownsConnection: true, ...queues });
  const client = new ControlClient({ url, logger, transport, shareRevokes: false });
  return { ready: async () => client, close: () => client.close() };
}

/**
 * The agent's view of its workers through Celery's own pidbox, for Celeriac and Python programs
 * alike: every few seconds an `inspect ping` to the serving workers (by node name, so the probe
 * ends as soon as all answered), then `active` and `reserved` counts from those that answered. A
 * worker that misses two probes in a row is reported `responding: false` in the program status and
 * logged (`agent.worker_unresponsive`); its recovery too (`agent.worker_responding`). On Redis the
 * pidbox is kombu's virtual one, reached with the program's TLS, Sentinel and failover settings
 * (`redisBrokerDialUrl`, one connection per URL and settings); on RabbitMQ (`amqp://`) the same ControlClient speaks through an
 * AMQP pidbox client (its own control connection per broker and connection settings: the
 * program's `broker_use_ssl` and the rest, see broker-connection-key.ts). A probe that cannot reach
 * the broker (down, a refused certificate) is logged once per outage (`agent.worker_probe_failed`,
 * warn) and its workers go `responding: false`. Workers on any other broker are not probed, which
 * it says once (`agent.worker_probe_unavailable`); their health files are still read.
 */
export class WorkerProbe {
  /** Keyed by `<key prefix>|<brokerConnectionKey>`. */
  private readonly clients = new Map<string, ProbeConnection>();
  /** Connections whose last probe failed (said once per outage). */
  private readonly failing = new Set<string>();
  private readonly notRedis: NotRedisNotice;
  private readonly health = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Task health per program (health files, Celery task events or `inspect stats`), for /metrics and the status. */
  readonly taskHealth: HealthCollector;

  constructor(private readonly o: WorkerProbeOptions) {
    this.taskHealth = new HealthCollector(o.logger);
    this.notRedis = new NotRedisNotice(
      o.logger,
      'agent.worker_probe_unavailable',
      (scheme) =>
        `the agent's inspect ping speaks Redis and RabbitMQ only: workers on the ${scheme}:// broker are not probed (no "workers"/"responding" in their status); their health files are still read`,
    );
  }

  start(): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.o.intervalMs ?? 5_000);
    this.timer.unref();
  }

  /** One probe of every target; never rejects. */
  async tick(): Promise<void> {
    const targets = this.o.targets();
    const probed = targets.filter((t) => {
      if (isRedisBrokerUrl(t.brokerUrl) || isAmqpUrl(t.brokerUrl)) return true;
      this.notRedis.note(t.brokerUrl);
      return false;
    });
    const names = new Set(probed.map((t) => t.name));
    for (const name of [...this.health.keys()]) if (!names.has(name)) this.health.delete(name);
    const keyPrefix = this.o.keyPrefix?.() ?? '';
    // Keyed prefix first: a prefix never contains '|' in practice, and a URL may.
    const byConnection = new Map<string, ProbeTarget[]>();
    for (const t of probed) {
      const key = `${keyPrefix}|${brokerConnectionKey(t.brokerUrl, t.brokerSettings)}`;
      byConnection.set(key, [...(byConnection.get(key) ?? []), t]);
    }
    for (const key of [...this.clients.keys()]) {
      if (!byConnection.has(key)) {
        void this.clients.get(key)?.close();
        this.clients.delete(key);
      }
    }
    for (const key of [...this.failing]) if (!byConnection.has(key)) this.failing.delete(key);
    await Promise.all([...byConnection].map(([key, group]) => this.probe(key, keyPrefix, group)));
    await this.taskHealth.collect(targets, keyPrefix);
  }

  /** The connection's client; `first` is one of its targets (they share URL and connection settings). */
  private client(key: string, keyPrefix: string, first: ProbeTarget): Promise<ControlClient> {
    let client = this.clients.get(key);
    if (!client) {
      const url = first.brokerUrl;
      client = isAmqpUrl(url)
        ? amqpControlClient(url, first.brokerSettings ?? {}, this.o.logger)
        : new RedisProbeClient(redisBrokerDialUrl(url, first.brokerSettings), keyPrefix, this.o.logger);
      this.clients.set(key, client);
    }
    return client.ready();
  }

  private async probe(key: string, keyPrefix: string, group: ProbeTarget[]): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? 1_000;
    const destination = group.map((t) => t.name);
    let replied = new Set<string>();
    let active: Record<string, unknown> = {};
    let reserved: Record<string, unknown> = {};
    try {
      const client = await this.client(key, keyPrefix, group[0] as ProbeTarget);
      const pongs = await client.ping({ destination, timeoutMs, limit: destination.length });
      replied = new Set(Object.keys(pongs));
      const answering = destination.filter((n) => replied.has(n));
      if (answering.length > 0) {
        const ask = { destination: answering, timeoutMs, limit: answering.length };
        active = await client.inspect('active', {}, ask);
        reserved = await client.inspect('reserved', {}, ask);
        await this.taskHealth.stats(client, group, answering, timeoutMs);
      }
      this.failing.delete(key);
    } catch (err) {
      const refused = this.clients.get(key);
      if (refused instanceof RedisProbeClient && refused.refusedFor(this.o.redialRefusedTlsMs ?? 60_000)) {
        this.clients.delete(key);
        void refused.close();
      }
      // Said once per outage (a broker down, a certificate refused); its workers then miss probes.
      const first = !this.failing.has(key);
      this.failing.add(key);
      const broker = redactUrl((group[0] as ProbeTarget).brokerUrl);
      const fields = {
        event: 'agent.worker_probe_failed' as const,
        broker,
        programs: [...new Set(group.map((t) => t.program))],
        code: (err as { code?: unknown }).code,
        // What is behind CONTROL_UNAVAILABLE, e.g. AMQP_TLS_CERTIFICATE or REDIS_TLS_CERTIFICATE for a CA the settings lack.
        cause_code: (err as { cause?: { code?: unknown } }).cause?.code,
        err,
      };
      const message = `cannot probe the workers on ${broker}: ${redactUrl((err as Error).message ?? String(err))}`;
      if (first) this.o.logger.warn(fields, message);
      else this.o.logger.debug(fields, message);
    }
    const now = new Date().toISOString();
    for (const t of group) {
      const answered = replied.has(t.name);
      this.record(
        t,
        answered,
        answered ? { at: now, active: count(active, t.name), reserved: count(reserved, t.name) } : null,
      );
    }
  }

  private record(
    t: ProbeTarget,
    answered: boolean,
    reply: { at: string; active: number | undefined; reserved: number | undefined } | null,
  ): void {
    const before = this.health.get(t.name);
    const entry: Tracked = before ?? { program: t.program, responding: true, misses: 0, last_reply_at: null };
    if (answered && reply) {
      entry.misses = 0;
      entry.last_reply_at = reply.at;
      if (reply.active !== undefined) entry.active = reply.active;
      if (reply.reserved !== undefined) entry.reserved = reply.reserved;
      if (!entry.responding) {
        entry.responding = true;
        this.o.logger.info(
          { event: 'agent.worker_responding', program: t.program, worker: t.name },
          `worker ${t.name} answers inspect ping again`,
        );
        this.o.onChange();
      }
    } else {
      entry.misses += 1;
      if (entry.responding && entry.misses >= (this.o.missesAllowed ?? 2)) {
        entry.responding = false;
        this.o.logger.warn(
          {
            event: 'agent.worker_unresponsive',
            program: t.program,
            worker: t.name,
            missed_probes: entry.misses,
            last_reply_at: entry.last_reply_at ?? null,
          },
          `worker ${t.name} of ${t.program} does not answer inspect ping (${entry.misses} probes in a row)`,
        );
        this.o.onChange();
      }
    }
    this.health.set(t.name, entry);
  }

  /** Adds `workers` and `responding` to the statuses of probed programs (in place; returns them). */
  annotate(statuses: Record<string, ProgramStatus>): Record<string, ProgramStatus> {
    this.taskHealth.annotate(statuses);
    for (const [name, entry] of this.health) {
      const status = statuses[entry.program];
      if (!status) continue;
      const { program: _program, misses: _misses, ...health } = entry;
      status.workers = { ...status.workers, [name]: health };
      status.responding = (status.responding ?? true) && health.responding;
    }
    return statuses;
  }

  /** Stops probing and closes the control connections. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    await this.taskHealth.close();
    this.clients.clear();
  }
}
