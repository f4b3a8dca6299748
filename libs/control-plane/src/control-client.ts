import type { Logger } from '@celeriac/logger';
import { type Serializer, uuid4 } from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { ControlArgumentError, ControlClosedError, ControlUnavailableError } from './errors.js';
import { decodeEnvelope, encodeEnvelope } from './kombu-envelope.js';
import { LamportClock } from './lamport-clock.js';
import { pyFloat } from './py-json.js';
import { RevokedSet } from './revoked-set.js';
import {
  bindingKey,
  bindingMember,
  fanoutChannel,
  PIDBOX_EXCHANGE,
  priorityLists,
  REPLY_EXCHANGE,
  redisDbFromUrl,
  replyQueueName,
} from './wire-names.js';

export interface ControlClientOptions {
  /** Broker URL. */
  url: string;
  logger: Logger;
  /** A command connection (may be shared); the blocking reply reads always use a connection of their own. */
  redis?: Redis;
  clock?: LamportClock;
  keyPrefix?: string;
  /** Request serializer (Celery's `task_serializer`), json by default. */
  serializer?: Serializer;
  /** Also store revoked ids in the shared `celeriac.revoked` set (default true). */
  shareRevokes?: boolean;
}

export interface BroadcastOptions {
  /** Node names; only they run the command (and the collection stops once all replied). */
  destination?: string[];
  /** kombu `pattern` + `matcher` (`glob` or `pcre`) instead of a destination list. */
  pattern?: string;
  matcher?: 'glob' | 'pcre';
  /** How long to collect replies (Celery's `timeout`, default 1 s). */
  timeoutMs?: number;
  /** Stop after this many replies. */
  limit?: number;
  /** Wait for replies (default true); false sends a cast (Celery's `reply=False`). */
  reply?: boolean;
}

/** One node's reply as Celery lists them: `{ 'w1@host': { ok: 'pong' } }`. */
export type NodeReply = Record<string, unknown>;

/**
 * Celery's `app.control` for TypeScript operators, interoperable with Python and Celeriac nodes:
 * publishes on `/<db>.celery.pidbox` and collects the replies from its own
 * `<oid>.reply.celery.pidbox` queue (bound before publishing, unbound after), as kombu's Mailbox.
 * One broadcast runs at a time per client (they share the reply queue and the blocking connection).
 */
export class ControlClient {
  /** The reply routing key (kombu's `oid`). */
  readonly oid = uuid4();
  readonly clock: LamportClock;
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private blocking: Redis | undefined;
  private readonly keyPrefix: string;
  private readonly channel: string;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private aborted = false;
  private readonly revokes: RevokedSet | undefined;

  constructor(private readonly options: ControlClientOptions) {
    this.clock = options.clock ?? new LamportClock();
    this.keyPrefix = options.keyPrefix ?? '';
    this.ownsRedis = options.redis === undefined;
    this.redis = options.redis ?? createRedisConnection(options.url, 'control-client', options.logger);
    this.channel = fanoutChannel(redisDbFromUrl(options.url), PIDBOX_EXCHANGE, '', this.keyPrefix);
    this.revokes =
      options.shareRevokes === false
        ? undefined
        : new RevokedSet({ redis: this.redis, logger: options.logger, keyPrefix: this.keyPrefix, syncIntervalMs: 0 });
  }

  /** Sends `command` to every node (or `destination`) and collects the replies until the timeout or limit. */
  broadcast(command: string, args: Record<string, unknown> = {}, options: BroadcastOptions = {}): Promise<NodeReply[]> {
    if (this.closed) return Promise.reject(new ControlClosedError('ControlClient', 'broadcast()', 'closed'));
    if (options.destination !== undefined && !Array.isArray(options.destination)) {
      return Promise.reject(new ControlArgumentError('destination must be an array of node names'));
    }
    const run = this.chain.then(() => this.broadcastNow(command, args, options));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Celery's `inspect()._request`: the replies merged into `{node: reply}` ({} when nobody replied). */
  async inspect(
    method: string,
    args: Record<string, unknown> = {},
    options: BroadcastOptions = {},
  ): Promise<Record<string, unknown>> {
    const replies = await this.broadcast(method, args, options);
    return Object.assign({}, ...replies) as Record<string, unknown>;
  }

  /** `{node: {ok: 'pong'}}` for every node that answered. */
  ping(options: BroadcastOptions = {}): Promise<Record<string, unknown>> {
    return this.inspect('ping', {}, options);
  }

  rateLimit(taskName: string, rateLimit: string | number | null, options: BroadcastOptions = {}) {
    return this.broadcast('rate_limit', { task_name: taskName, rate_limit: rateLimit }, options);
  }

  timeLimit(taskName: string, soft: number | null, hard: number | null, options: BroadcastOptions = {}) {
    return this.broadcast('time_limit', { task_name: taskName, soft, hard }, options);
  }

  addConsumer(queue: string, options: BroadcastOptions = {}) {
    return this.broadcast(
      'add_consumer',
      { queue, exchange: null, exchange_type: 'direct', routing_key: null },
      options,
    );
  }

  cancelConsumer(queue: string, options: BroadcastOptions = {}) {
    return this.broadcast('cancel_consumer', { queue }, options);
  }

  /** Warm shutdown; nodes do not reply (as Celery), so it is a cast unless `reply` is set. */
  shutdown(options: BroadcastOptions = {}) {
    return this.broadcast('shutdown', {}, { reply: false, ...options });
  }

  /**
   * Celery's `control.revoke`: stores the ids in the shared revoked set (so Celeriac workers that
   * start later drop them too), then broadcasts `revoke`. A cast unless `reply` is set, as in Celery.
   */
  async revoke(
    taskIds: string | string[],
    options: BroadcastOptions & { terminate?: boolean; signal?: string } = {},
  ): Promise<NodeReply[]> {
    const ids = Array.isArray(taskIds) ? taskIds : [taskIds];
    const { terminate = false, signal = 'SIGTERM', ...broadcast } = options;
    await this.revokes?.add(ids).catch((err: unknown) => {
      throw new ControlUnavailableError(this.options.url, 'revoke store', err);
    });
    return this.broadcast(
      'revoke',
      { task_id: ids.length === 1 ? ids[0] : ids, terminate, signal },
      { reply: false, ...broadcast },
    );
  }

  /**
   * Stops collecting now: a broadcast under way resolves with the replies it has (a worker that
   * stops during its start-up mingle does not wait out the mingle's second). Later broadcasts
   * collect nothing. For shutdown; `close()` still closes the connections.
   */
  abort(): void {
    this.aborted = true;
    this.blocking?.disconnect(false);
  }

  /** Closes its connections; pending broadcasts finish first. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    if (this.blocking) await closeRedisConnection(this.blocking);
    if (this.ownsRedis) await closeRedisConnection(this.redis);
  }

  private async broadcastNow(command: string, args: Record<string, unknown>, options: BroadcastOptions) {
    const timeoutMs = options.timeoutMs ?? 1_000;
    const wantReply = options.reply ?? true;
    const limit = options.limit ?? (options.destination?.length || undefined);
    const ticket = wantReply ? uuid4() : undefined;
    const queue = replyQueueName(this.oid);
    const binding = { key: bindingKey(REPLY_EXCHANGE, this.keyPrefix), member: bindingMember(this.oid, queue) };
    const body: Record<string, unknown> = {
      method: command,
      arguments: args,
      destination: options.destination ?? null,
      pattern: options.pattern ?? null,
      matcher: options.matcher ?? null,
    };
    if (ticket !== undefined) {
      body.ticket = ticket;
      body.reply_to = { exchange: REPLY_EXCHANGE, routing_key: this.oid };
    }
    const envelope = encodeEnvelope(body, {
      exchange: PIDBOX_EXCHANGE,
      routingKey: '',
      headers: { clock: this.clock.forward(), expires: pyFloat((Date.now() + timeoutMs) / 1000) },
      deliveryMode: 2,
      serializer: this.options.serializer,
    });
    try {
      if (ticket !== undefined) await this.redis.sadd(binding.key, binding.member);
      await this.redis.publish(this.channel, envelope);
      if (ticket === undefined) return [];
      return await this.collect(ticket, queue, timeoutMs, limit);
    } catch (err) {
      throw new ControlUnavailableError(this.options.url, `broadcast of ${command}`, err);
    } finally {
      if (ticket !== undefined) {
        await this.redis
          .multi()
          .srem(binding.key, binding.member)
          .del(...priorityLists(queue, this.keyPrefix))
          .exec()
          .catch(() => undefined);
      }
    }
  }

  private async collect(ticket: string, queue: string, timeoutMs: number, limit: number | undefined) {
    this.blocking ??= createRedisConnection(this.options.url, 'control-client-replies', this.options.logger);
    const lists = priorityLists(queue, this.keyPrefix);
    const replies: NodeReply[] = [];
    const deadline = Date.now() + timeoutMs;
    while (limit === undefined || replies.length < limit) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || this.aborted) break;
      let popped: [string, string] | null;
      try {
        popped = await this.blocking.brpop(...lists, Math.max(0.01, remainingMs / 1000));
      } catch (err) {
        if (this.aborted) break;
        throw err;
      }
      if (popped === null) break;
      const decoded = decodeEnvelope(popped[1]);
      if (!decoded.ok) {
        this.options.logger.warn({ event: 'control.bad_reply', reason: decoded.reason }, 'cannot decode a reply');
        continue;
      }
      this.clock.adjust(decoded.value.headers.clock ?? 0);
      if (decoded.value.headers.ticket !== ticket) continue; // a late reply to an earlier broadcast
      const reply = decoded.value.body;
      if (reply !== null && typeof reply === 'object' && !Array.isArray(reply)) replies.push(reply as NodeReply);
    }
    return replies;
  }
}
