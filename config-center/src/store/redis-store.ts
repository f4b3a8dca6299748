import { type Logger, redactUrl } from '@celeriac/logger';
import { ioredisTargetOptions, parseRedisUrl } from '@celeriac/redis-connection';
import { Redis } from 'ioredis';
import { CenterStartError } from '../errors.js';
import type { NodeStatusRecord, Revision, RevisionDraft, TokenRecord } from '../types.js';
import type { AppendExpectation, AppendResult, ConfigStore } from './config-store.js';
import { APPEND_REVISION_LUA } from './redis-scripts.js';

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
  };
  private readonly listeners: ((head: number) => void)[] = [];
  private subscriberReadyOnce = false;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.description = redactUrl(options.url);
    const prefix = options.keyPrefix ?? 'celeriac:center:';
    this.keys = {
      revisions: `${prefix}revisions`,
      layers: `${prefix}layers`,
      tokens: `${prefix}tokens`,
      tokenHashes: `${prefix}token-hashes`,
      nodes: `${prefix}nodes`,
      channel: `${prefix}changes`,
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
    this.subscriber.on('message', (_channel: string, message: string) => {
      const head = Number(message);
      for (const listener of this.listeners) listener(head);
    });
    // After a reconnect, changes published while we were away were missed: ask everyone to catch up.
    this.subscriber.on('ready', () => {
      if (!this.subscriberReadyOnce) return;
      for (const listener of this.listeners) listener(-1);
    });
    await this.subscriber.subscribe(this.keys.channel);
    this.subscriberReadyOnce = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriber.disconnect();
    await this.commands.quit().catch(() => this.commands.disconnect());
  }

  async readRevisions(afterRevision: number): Promise<Revision[]> {
    const raw = await this.commands.lrange(this.keys.revisions, Math.max(0, afterRevision), -1);
    return raw.map((entry) => JSON.parse(entry) as Revision);
  }

  async append(draft: RevisionDraft, expect: AppendExpectation): Promise<AppendResult> {
    const reply = (await (
      this.commands as unknown as {
        celeriacAppendRevision(...args: (string | number)[]): Promise<[string, number]>;
      }
    ).celeriacAppendRevision(
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
}
