import { type Logger, redactUrl } from '@celeriac/logger';
import { ioredisTargetOptions, parseRedisUrl } from '@celeriac/redis-connection';
import { Redis } from 'ioredis';
import { CenterStartError } from '../errors.js';
import type { NodeStatusRecord, Revision, RevisionDraft, TokenRecord } from '../types.js';
import type { AppendExpectation, AppendResult, ConfigStore } from './config-store.js';
import {
  ACQUIRE_ROLLOUT_LEASE_LUA,
  APPEND_REVISION_LUA,
  RELEASE_ROLLOUT_LEASE_LUA,
  TAKE_ROLLOUT_COMMANDS_LUA,
  WRITE_ROLLOUTS_LUA,
} from './redis-scripts.js';

/** The Lua commands defined on the command connection. */
interface ScriptedRedis {
  celeriacAppendRevision(...args: (string | number)[]): Promise<[string, number]>;
  celeriacAcquireRolloutLease(lease: string, token: string, ttlMs: number): Promise<number>;
  celeriacReleaseRolloutLease(lease: string, token: string): Promise<number>;
  celeriacWriteRollouts(lease: string, records: string, version: string, ...args: string[]): Promise<number>;
  celeriacTakeRolloutCommands(lease: string, commands: string, token: string): Promise<string[]>;
}

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** `redis://[:password@]host:port/db` */
  url: string;
  logger: Logger;
  /** Prefix of every key and of the change channel; default `celeriac:center:`. */
  keyPrefix?: string;
}

/**
 * A store shared by several center replicas: revisions in a Redis list appended by a Lua
 * compare-and-append (so two replicas never both accept a write based on the same revision), and a
 * PUBLISH after each append that wakes every replica.
 */
export class RedisStore implements ConfigStore {
  readonly description: string;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly keys: {
    revisions: string;
    layers: string;
    tokens: string;
    tokenHashes: string;
    nodes: string;
    channel: string;
    rollouts: string;
    rolloutsVersion: string;
    rolloutLease: string;
    rolloutCommands: string;
    rolloutResult: string;
    rolloutChannel: string;
  };
  /** The prefix of every key and channel of this store. */
  readonly keyPrefix: string;
  private readonly listeners: ((head: number) => void)[] = [];
  private readonly rolloutListeners: (() => void)[] = [];
  private subscriberReadyOnce = false;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.description = redactUrl(options.url);
    const prefix = options.keyPrefix ?? 'celeriac:center:';
    this.keyPrefix = prefix;
    this.keys = {
      revisions: `${prefix}revisions`,
      layers: `${prefix}layers`,
      tokens: `${prefix}tokens`,
      tokenHashes: `${prefix}token-hashes`,
      nodes: `${prefix}nodes`,
      channel: `${prefix}changes`,
      rollouts: `${prefix}rollouts`,
      rolloutsVersion: `${prefix}rollouts-version`,
      rolloutLease: `${prefix}rollout-lease`,
      rolloutCommands: `${prefix}rollout-commands`,
      rolloutResult: `${prefix}rollout-result:`,
      rolloutChannel: `${prefix}rollout-changes`,
    };
    const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 2, connectionName: 'celeriac-center' };
    // The one URL parser of every Celeriac connection: TLS, unix sockets and Sentinel included.
    const target = ioredisTargetOptions(parseRedisUrl(options.url, { setting: 'the store URL' }));
    this.commands = new Redis({ ...target, ...redisOptions });
    this.subscriber = new Redis({ ...target, ...redisOptions, connectionName: 'celeriac-center-sub' });
    for (const connection of [this.commands, this.subscriber]) {
      connection.on('error', (error: Error) =>
        options.logger.warn(
          { event: 'center.store_redis_error', store: this.description, err: error },
          'redis connection error; retrying',
        ),
      );
    }
    this.commands.defineCommand('celeriacAppendRevision', { numberOfKeys: 2, lua: APPEND_REVISION_LUA });
    this.commands.defineCommand('celeriacAcquireRolloutLease', { numberOfKeys: 1, lua: ACQUIRE_ROLLOUT_LEASE_LUA });
    this.commands.defineCommand('celeriacReleaseRolloutLease', { numberOfKeys: 1, lua: RELEASE_ROLLOUT_LEASE_LUA });
    this.commands.defineCommand('celeriacWriteRollouts', { numberOfKeys: 3, lua: WRITE_ROLLOUTS_LUA });
    this.commands.defineCommand('celeriacTakeRolloutCommands', { numberOfKeys: 2, lua: TAKE_ROLLOUT_COMMANDS_LUA });
  }

  private get scripted(): ScriptedRedis {
    return this.commands as unknown as ScriptedRedis;
  }

  async start(): Promise<void> {
    try {
      await this.commands.connect();
      await this.subscriber.connect();
    } catch (error) {
      throw new CenterStartError(
        'CENTER_STORE_UNREACHABLE',
        `cannot reach the Redis store at ${this.description}; check --store and that redis-server runs`,
        { cause: error },
      );
    }
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.rolloutChannel) {
        for (const listener of this.rolloutListeners) listener();
        return;
      }
      const head = Number(message);
      for (const listener of this.listeners) listener(head);
    });
    // After a reconnect, changes published while we were away were missed: ask everyone to catch up.
    this.subscriber.on('ready', () => {
      if (!this.subscriberReadyOnce) return;
      for (const listener of this.listeners) listener(-1);
      for (const listener of this.rolloutListeners) listener();
    });
    await this.subscriber.subscribe(this.keys.channel, this.keys.rolloutChannel);
    this.subscriberReadyOnce = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriber.disconnect();
    await this.commands.quit().catch(() => this.commands.disconnect());
  }

  /**
   * A new connection to the store's Redis (same target and options, not connected yet) for a
   * component with traffic of its own: the shared health history (shared-health-history.ts).
   */
  newConnection(connectionName: string): Redis {
    return this.commands.duplicate({ connectionName });
  }

  async readRevisions(afterRevision: number): Promise<Revision[]> {
    const raw = await this.commands.lrange(this.keys.revisions, Math.max(0, afterRevision), -1);
    return raw.map((entry) => JSON.parse(entry) as Revision);
  }

  async append(draft: RevisionDraft, expect: AppendExpectation): Promise<AppendResult> {
    const reply = (await this.scripted.celeriacAppendRevision(
      this.keys.revisions,
      this.keys.layers,
      draft.layer,
      expect.layerRevision,
      expect.headRevision,
      JSON.stringify(draft),
      this.keys.channel,
    )) as [string, number];
    const [status, value] = reply;
    if (status === 'layer_conflict')
      return { ok: false, reason: 'layer_conflict', currentLayerRevision: Number(value) };
    if (status === 'head_moved') return { ok: false, reason: 'head_moved', headRevision: Number(value) };
    return { ok: true, revision: { revision: Number(value), ...draft } };
  }

  onAppend(listener: (headRevision: number) => void): void {
    this.listeners.push(listener);
  }

  async listTokens(): Promise<TokenRecord[]> {
    const all = await this.commands.hvals(this.keys.tokens);
    return all.map((entry) => JSON.parse(entry) as TokenRecord);
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const raw = await this.commands.hget(this.keys.tokens, id);
    return raw ? (JSON.parse(raw) as TokenRecord) : undefined;
  }

  async putToken(token: TokenRecord): Promise<void> {
    const previous = await this.getToken(token.id);
    const transaction = this.commands.multi();
    if (previous) transaction.hdel(this.keys.tokenHashes, previous.hash);
    transaction.hset(this.keys.tokens, token.id, JSON.stringify(token));
    transaction.hset(this.keys.tokenHashes, token.hash, token.id);
    await transaction.exec();
  }

  async deleteToken(id: string): Promise<boolean> {
    const previous = await this.getToken(id);
    if (!previous) return false;
    await this.commands.multi().hdel(this.keys.tokens, id).hdel(this.keys.tokenHashes, previous.hash).exec();
    return true;
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const id = await this.commands.hget(this.keys.tokenHashes, hash);
    return id ? this.getToken(id) : undefined;
  }

  async putNodeStatus(record: NodeStatusRecord): Promise<void> {
    await this.commands.hset(this.keys.nodes, record.node, JSON.stringify(record));
  }

  async listNodeStatuses(): Promise<NodeStatusRecord[]> {
    const all = await this.commands.hvals(this.keys.nodes);
    return all.map((entry) => JSON.parse(entry) as NodeStatusRecord);
  }

  /*
   * Rollout state shared by the replicas (rollout/rollout-redis-store.ts): the records as one JSON
   * value with a version, written only by the holder of a lease (fenced in Lua), operator commands
   * queued for the holder, their answers, and a channel that says the records changed.
   */

  /** The rollout records (JSON, null before any) and their version. */
  async readRollouts(): Promise<{ version: number; records: string | null }> {
    const [records, version] = await this.commands.mget(this.keys.rollouts, this.keys.rolloutsVersion);
    return { version: Number(version ?? 0), records: records ?? null };
  }

  /** The version of the rollout records (0 before any write): cheap to poll. */
  async rolloutsVersion(): Promise<number> {
    return Number((await this.commands.get(this.keys.rolloutsVersion)) ?? 0);
  }

  /** Writes the records if `token` holds the lease; resolves false (nothing written) when it does not. */
  async writeRollouts(token: string, records: string): Promise<boolean> {
    const version = await this.scripted.celeriacWriteRollouts(
      this.keys.rolloutLease,
      this.keys.rollouts,
      this.keys.rolloutsVersion,
      token,
      records,
      this.keys.rolloutChannel,
    );
    return Number(version) > 0;
  }

  /** Takes the lease for `ttlMs`, or renews it when `token` holds it; false when another replica does. */
  async acquireRolloutLease(token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.scripted.celeriacAcquireRolloutLease(this.keys.rolloutLease, token, ttlMs)) === 1;
  }

  /** Gives the lease up if `token` holds it (a replica that stops lets another take over at once). */
  async releaseRolloutLease(token: string): Promise<void> {
    await this.scripted.celeriacReleaseRolloutLease(this.keys.rolloutLease, token);
  }

  /** Queues an operator command (JSON) for the lease holder and tells every replica. */
  async queueRolloutCommand(command: string): Promise<void> {
    await this.commands.multi().rpush(this.keys.rolloutCommands, command).publish(this.keys.rolloutChannel, '0').exec();
  }

  /** The queued commands, removed from the queue, if `token` holds the lease (else none). */
  async takeRolloutCommands(token: string): Promise<string[]> {
    return this.scripted.celeriacTakeRolloutCommands(this.keys.rolloutLease, this.keys.rolloutCommands, token);
  }

  /** The answer to a queued command, kept `ttlMs` for the replica that waits for it. */
  async putRolloutResult(id: string, result: string, ttlMs: number): Promise<void> {
    await this.commands
      .multi()
      .set(`${this.keys.rolloutResult}${id}`, result, 'PX', ttlMs)
      .publish(this.keys.rolloutChannel, '0')
      .exec();
  }

  /** The answer to a queued command, removed; null while there is none. */
  async takeRolloutResult(id: string): Promise<string | null> {
    return this.commands.getdel(`${this.keys.rolloutResult}${id}`);
  }

  /** Called whenever rollout records, commands or answers changed (also after a reconnect). */
  onRolloutChange(listener: () => void): void {
    this.rolloutListeners.push(listener);
  }
}
