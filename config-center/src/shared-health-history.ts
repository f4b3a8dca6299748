import { randomUUID } from 'node:crypto';
import type { NodeStatus } from '@celeriac/config-schema';
import type { Logger } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { HealthHistory, type HealthHistoryOptions, type HealthSample, healthSampleOf } from './health-history.js';
import type { ConfigStore } from './store/config-store.js';
import { RedisStore } from './store/redis-store.js';

/** One point as it travels between replicas: node, second, ended/s, failed/s, p95 (null: none). */
type WirePoint = [string, number, number, number, number | null];

/** Nodes read per pipeline when loading the backlog. */
const BACKLOG_CHUNK = 200;
/** Nodes written per script call: Redis runs a script alone, so each call stays short (a few ms). */
const WRITE_CHUNK = 500;

/**
 * Keeps one flush's points: KEYS[1] the node index, KEYS[2..] each node's sorted set; ARGV step,
 * window, TTL (ms), the sorted sets' key prefix, then per node its second and member. One member per step (the newest report's),
 * members older than the window trimmed, the key expiring a window after its last point.
 */
const KEEP_POINTS_LUA = `
local step, window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local newest = 0
for i = 2, #KEYS do
  local key, second, member = KEYS[i], tonumber(ARGV[2 * i + 1]), ARGV[2 * i + 2]
  local node = string.sub(key, string.len(ARGV[4]) + 1)
  local stepStart = math.floor(second / step) * step
  redis.call('ZREMRANGEBYSCORE', key, stepStart, stepStart + step - 1)
  redis.call('ZADD', key, second, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (second - window))
  redis.call('PEXPIRE', key, ttl)
  redis.call('ZADD', KEYS[1], second, node)
  if second > newest then newest = second end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (newest - window))
return #KEYS - 1
`;

/** The script command defined on the connection. */
interface KeepPoints {
  celeriacKeepHealthPoints(keyCount: number, ...keysAndArgs: (string | number)[]): Promise<number>;
}

/** Options of a shared history, on top of a history's own. */
export interface SharedHealthHistoryOptions extends HealthHistoryOptions {
  /** How often this replica's new points are written and published (one pipeline); default 1 s. */
  flushMs?: number;
}

/**
 * The health history of center replicas sharing a Redis store: each replica keeps the whole
 * history in memory (reads and the aggregate stay local, as with one replica) and shares the points
 * it receives. Every `flushMs` one pipeline writes the newest point of each node that reported
 * here to a per-node sorted set (score: the second; one member per step; trimmed to the window;
 * expiring an hour after the node's last point) and publishes the batch on a channel; the other
 * replicas merge the batch into their rings. A replica that starts, or whose subscription
 * reconnects, loads the last hour from the sorted sets.
 */
export class SharedHealthHistory extends HealthHistory {
  override readonly scope = 'shared' as const;
  private readonly id = randomUUID();
  private readonly keys: { nodes: string; points: string; channel: string };
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private pending = new Map<string, { second: number; sample: HealthSample }>();
  /** Batches received while the backlog loads: merged after it, so older backlog points are not dropped. */
  private held: WirePoint[][] | undefined = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private subscribedOnce = false;
  private started = false;
  private closed = false;

  constructor(
    store: RedisStore,
    private readonly logger: Logger,
    options: SharedHealthHistoryOptions = {},
  ) {
    super(options);
    this.flushMs = options.flushMs ?? 1000;
    const prefix = store.keyPrefix;
    this.keys = { nodes: `${prefix}health-nodes`, points: `${prefix}health:`, channel: `${prefix}health-points` };
    this.commands = store.newConnection('celeriac-center-health');
    this.subscriber = store.newConnection('celeriac-center-health-sub');
    this.commands.defineCommand('celeriacKeepHealthPoints', { lua: KEEP_POINTS_LUA });
    for (const connection of [this.commands, this.subscriber])
      connection.on('error', (error: Error) =>
        logger.warn(
          { event: 'center.health_redis_error', store: store.description, err: error },
          'redis connection of the shared health history failed; retrying',
        ),
      );
  }

  override record(node: string, status: Pick<NodeStatus, 'programs'>, atMs: number = Date.now()): boolean {
    if (!super.record(node, status, atMs)) return false;
    // The latest report of a node since the last flush is the one its step keeps.
    this.pending.set(node, { second: Math.floor(atMs / 1000), sample: healthSampleOf(status) as HealthSample });
    return true;
  }

  /** Connects, subscribes, loads the last hour of every replica's points, then flushes every `flushMs`. */
  override async start(): Promise<void> {
    this.started = true;
    await this.commands.connect();
    await this.subscriber.connect();
    this.subscriber.on('message', (_channel: string, message: string) => this.receive(message));
    this.subscriber.on('ready', () => {
      if (this.subscribedOnce && !this.closed) void this.loadBacklog();
    });
    await this.subscriber.subscribe(this.keys.channel);
    this.subscribedOnce = true;
    await this.loadBacklog();
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Writes the last points and disconnects. */
  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (!this.started) {
      this.subscriber.disconnect();
      this.commands.disconnect();
      return;
    }
    await this.flush();
    this.subscriber.disconnect();
    await this.commands.quit().catch(() => this.commands.disconnect());
  }

  /** Writes and publishes the points received since the last flush (one pipeline); resolves when done. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const pipeline = this.commands.pipeline() as unknown as ReturnType<Redis['pipeline']> & KeepPoints;
    const wire: WirePoint[] = [];
    for (const [node, { second, sample }] of batch)
      wire.push([node, second, sample.endedPerS, sample.failedPerS, sample.runtimeP95S]);
    for (let i = 0; i < wire.length; i += WRITE_CHUNK) {
      const chunk = wire.slice(i, i + WRITE_CHUNK);
      const keys = chunk.map((point) => `${this.keys.points}${point[0]}`);
      const args: (string | number)[] = [
        this.stepS,
        this.windowS,
        (this.windowS + this.stepS) * 1000,
        this.keys.points,
      ];
      for (const point of chunk) args.push(point[1], JSON.stringify(point.slice(1)));
      pipeline.celeriacKeepHealthPoints(keys.length + 1, this.keys.nodes, ...keys, ...args);
    }
    pipeline.publish(this.keys.channel, JSON.stringify({ from: this.id, points: wire }));
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed) throw failed[0];
    } catch (error) {
      // Kept here, lost to the other replicas: the history is a view, the next flush carries on.
      this.logger.warn(
        { event: 'center.health_share_failed', nodes: batch.size, err: error },
        `could not share ${batch.size} health point(s) with the other replicas`,
      );
    }
  }

  private receive(message: string): void {
    let parsed: { from?: unknown; points?: unknown };
    try {
      parsed = JSON.parse(message) as { from?: unknown; points?: unknown };
    } catch {
      return;
    }
    if (parsed.from === this.id || !Array.isArray(parsed.points)) return;
    const points = parsed.points as WirePoint[];
    if (this.held) this.held.push(points);
    else this.mergeAll(points);
  }

  private mergeAll(points: readonly WirePoint[]): void {
    for (const point of points) {
      const [node, second, endedPerS, failedPerS, runtimeP95S] = point;
      if (typeof node !== 'string' || typeof second !== 'number') continue;
      this.merge(node, second, { endedPerS, failedPerS, runtimeP95S });
    }
  }

  /** Merges every node's points of the window from Redis, then the batches received meanwhile. */
  private async loadBacklog(): Promise<void> {
    this.held ??= [];
    try {
      const since = Math.floor(Date.now() / 1000) - this.windowS;
      const nodes = await this.commands.zrangebyscore(this.keys.nodes, since, '+inf');
      for (let i = 0; i < nodes.length; i += BACKLOG_CHUNK) {
        const chunk = nodes.slice(i, i + BACKLOG_CHUNK);
        const pipeline = this.commands.pipeline();
        for (const node of chunk) pipeline.zrangebyscore(`${this.keys.points}${node}`, since, '+inf');
        const results = (await pipeline.exec()) ?? [];
        chunk.forEach((node, index) => {
          const members = (results[index]?.[1] ?? []) as string[];
          this.mergeAll(
            members.map((member) => [node, ...(JSON.parse(member) as [number, number, number, number | null])]),
          );
        });
      }
    } catch (error) {
      this.logger.warn(
        { event: 'center.health_backlog_failed', err: error },
        'could not load the other replicas’ health history; it fills from new reports',
      );
    } finally {
      const held = this.held ?? [];
      this.held = undefined;
      for (const points of held) this.mergeAll(points);
    }
  }
}

/** The health history of a center: shared by the replicas of a Redis store, else this replica's own. */
export function healthHistoryFor(
  store: ConfigStore,
  logger: Logger,
  options: SharedHealthHistoryOptions = {},
): HealthHistory {
  return store instanceof RedisStore ? new SharedHealthHistory(store, logger, options) : new HealthHistory(options);
}
