import {
  type FleetLimit,
  FleetLimitClient,
  type FleetLimitDocument,
  type FleetLimitSnapshot,
  fleetLimitsFromSettings,
  globalKeyPrefixFromSettings,
} from '@celeriac/broker';
import { isAmqpUrl } from '@celeriac/broker-amqp';
import { type EffectiveConfig, type FleetLimitStatus, MAX_FLEET_LIMIT_ROWS } from '@celeriac/config-schema';
import { type Logger, redactUrl } from '@celeriac/logger';
import { redisUrlFromSettings } from '@celeriac/redis-connection/url';
import { redisBrokerDialUrl } from './broker-connection-key.js';
import { isRedisBrokerUrl } from './redis-broker-only.js';

/** Celeriac's default broker, as the client's defaults. */
const DEFAULT_BROKER_URL = 'redis://127.0.0.1:6379/0';
/** How often the fleet limits' state is read for `/metrics`. */
const SNAPSHOT_MS = 1_000;

/** The outcome of one publish: what it did, for the apply message. */
export interface FleetLimitsPublished {
  /** True when the document in Redis changed. */
  changed: boolean;
  limits: FleetLimit[];
  /** The reason it could not be written (the apply fails with it); undefined when it was. */
  error?: string;
}

/** Where a fleet's limits live: the Redis that `url` names, for workers on the broker `brokerUrl`. */
interface FleetLimitsHome {
  url: string;
  brokerUrl: string;
  /** For the log: `the broker` or `the result backend`. */
  role: 'broker' | 'result backend';
}

/**
 * The Redis the workers of `celery` read fleet limits from, as @celeriac/worker-runtime picks it:
 * the broker on Redis; the result backend (a Redis) on RabbitMQ, where nothing else is shared.
 * Throws with the reason when there is none.
 */
function fleetLimitsHome(celery: Record<string, unknown>): FleetLimitsHome {
  const brokerUrl = typeof celery.broker_url === 'string' ? celery.broker_url : DEFAULT_BROKER_URL;
  // Dialled with broker_use_ssl, master_name, sentinel_kwargs and the failover strategy, as the workers do.
  if (isRedisBrokerUrl(brokerUrl)) return { url: redisBrokerDialUrl(brokerUrl, celery), brokerUrl, role: 'broker' };
  const advice = 'remove the fleet_* annotations and celeriac_fleet_limits, or';
  if (!isAmqpUrl(brokerUrl)) {
    throw new Error(
      `fleet limits are shared through a Redis broker, or on RabbitMQ through a Redis result backend, and broker_url is ${redactUrl(brokerUrl)}; ${advice} use a Redis or RabbitMQ broker`,
    );
  }
  if (celery.result_backend === undefined || celery.result_backend === null) {
    throw new Error(
      `the broker is RabbitMQ (${redactUrl(brokerUrl)}) and there is no result_backend: workers on RabbitMQ share fleet limits through the result backend's Redis, so they cannot be shared; ${advice} set result_backend to a redis:// URL`,
    );
  }
  try {
    return { url: redisUrlFromSettings('result_backend', celery), brokerUrl, role: 'result backend' };
  } catch (error) {
    throw new Error(
      `the broker is RabbitMQ and workers on RabbitMQ share fleet limits through the result backend's Redis, but result_backend is not a Redis URL the workers can use (${(error as Error).message}); ${advice} set result_backend to a redis:// URL`,
    );
  }
}

/**
 * Writes the fleet-wide limits of the node's config (the `fleet_*` annotations and
 * `celeriac_fleet_limits`) as the fleet limit document to the Redis the workers read it from (the
 * broker's; on RabbitMQ the result backend's, under the same keys and `global_keyprefix`), announced to every
 * worker, which follow it within a second without a restart (docs/fleet-limits.md). Nothing is
 * written, and no connection opened, while no config had fleet limits. Also reads the limits'
 * state across the fleet every second for the agent's `/metrics`. Logs `agent.fleet_limits_published`
 * and `agent.fleet_limits_failed`.
 */
export class FleetLimitsPublisher {
  private client: FleetLimitClient | null = null;
  private url = '';
  /** The broker of the workers that read limits from `url` (the same URL on Redis). */
  private brokerUrl = '';
  /** The `global_keyprefix` the client was opened with. */
  private keyPrefix = '';
  private published = false;
  private limits: FleetLimit[] = [];
  private snapshotValue: FleetLimitSnapshot[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly node: string,
    private readonly logger: Logger,
  ) {}

  /** The last state read of every limit in force (empty without limits). */
  snapshot(): FleetLimitSnapshot[] {
    return this.snapshotValue;
  }

  /** The same, as the node status reports it to the center (`fleet_limits`). */
  statusRows(): FleetLimitStatus[] {
    return this.snapshotValue.slice(0, MAX_FLEET_LIMIT_ROWS).map((s) => ({
      limit: s.limit.id,
      rate: s.limit.ratePerSec,
      concurrency: s.limit.concurrency,
      key: s.limit.key,
      current_rate: s.currentRate,
      tokens: s.tokens === null ? null : Math.round(s.tokens * 1000) / 1000,
      slots_held: s.slotsHeld,
      waiting: s.waiting,
      running: s.running,
    }));
  }

  /** Publishes the limits of `config` (revision `revision`); never throws. */
  async publish(config: EffectiveConfig, revision: number): Promise<FleetLimitsPublished> {
    let limits: FleetLimit[];
    try {
      limits = fleetLimitsFromSettings(config.celery as Record<string, unknown>);
    } catch (error) {
      return this.failed(revision, [], error);
    }
    if (limits.length === 0 && !this.published) return { changed: false, limits };
    let home: FleetLimitsHome;
    try {
      home = fleetLimitsHome(config.celery as Record<string, unknown>);
    } catch (error) {
      return this.failed(revision, limits, error);
    }
    const { url } = home;
    try {
      const client = await this.connect(url, globalKeyPrefixFromSettings(config.celery as Record<string, unknown>));
      this.brokerUrl = home.brokerUrl;
      const current = await client.readDocument().catch(() => null);
      this.published = true;
      this.limits = limits;
      this.startSnapshots();
      if (current !== null && JSON.stringify(current.limits) === JSON.stringify(limits)) {
        return { changed: false, limits };
      }
      const doc: FleetLimitDocument = { version: 1, revision, source: `agent ${this.node}`, limits };
      await client.writeDocument(doc);
      this.logger.info(
        {
          event: 'agent.fleet_limits_published',
          revision,
          limits: limits.map((l) => l.id),
          redis: redactUrl(url),
          role: home.role,
        },
        `fleet limits of revision ${revision} written to the ${home.role}: ${limits.map((l) => l.id).join(', ') || 'none'}`,
      );
      return { changed: true, limits };
    } catch (error) {
      return this.failed(revision, limits, error);
    }
  }

  private failed(revision: number, limits: FleetLimit[], error: unknown): FleetLimitsPublished {
    const reason = `fleet limits not written: ${(error as Error).message}`;
    this.logger.error({ event: 'agent.fleet_limits_failed', revision, err: error }, reason);
    return { changed: false, limits, error: reason };
  }

  private async connect(url: string, keyPrefix: string): Promise<FleetLimitClient> {
    if (this.client !== null && this.url === url && this.keyPrefix === keyPrefix) return this.client;
    const old = this.client;
    this.client = null;
    await old?.close();
    const client = new FleetLimitClient({ url, logger: this.logger, keyPrefix });
    try {
      await client.start();
    } catch (error) {
      await client.close();
      throw error;
    }
    this.client = client;
    this.url = url;
    this.keyPrefix = keyPrefix;
    return client;
  }

  private startSnapshots(): void {
    if (this.timer !== null || this.closed) return;
    const read = () => {
      const client = this.client;
      if (client === null) return;
      client.snapshot(this.limits).then(
        (snapshot) => {
          this.snapshotValue = snapshot;
        },
        () => undefined,
      );
    };
    read();
    this.timer = setInterval(read, SNAPSHOT_MS);
    this.timer.unref();
  }

  /**
   * A worker on `brokerUrl` died: the fleet concurrency slots it held return now, not at the end of
   * their leases (only once fleet limits were published for that broker); never throws.
   */
  async releaseOwner(brokerUrl: string, ownerId: string): Promise<number> {
    const client = this.client;
    if (client === null || this.brokerUrl !== brokerUrl) return 0;
    try {
      const freed = await client.releaseOwner(ownerId);
      if (freed > 0) {
        this.logger.info(
          { event: 'agent.fleet_slots_released', owner: ownerId, slots: freed },
          'gave back the fleet concurrency slots of a dead worker',
        );
      }
      return freed;
    } catch (error) {
      this.logger.warn(
        { event: 'agent.fleet_limits_failed', owner: ownerId, err: error },
        'could not give back a dead worker’s fleet concurrency slots; they return when their leases expire',
      );
      return 0;
    }
  }

  /** Stops the metrics reads and closes the connection; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    await client?.close();
  }
}
