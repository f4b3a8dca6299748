import type { Logger } from '@celeriac/logger';
import { type Serializer, uuid4 } from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { ControlArgumentError, ControlClosedError, ControlUnavailableError } from './errors.js';
import { decodeBody, serializeBody } from './kombu-envelope.js';
import { LamportClock } from './lamport-clock.js';
import type { PidboxClientTransport } from './pidbox-transport.js';
import { pyFloat } from './py-json.js';
import { RedisPidboxClient } from './redis-pidbox-client.js';
import { RevokedSet } from './revoked-set.js';
import { PIDBOX_EXCHANGE, REPLY_EXCHANGE, replyQueueName } from './wire-names.js';

export interface ControlClientOptions {
  /** Broker URL. */
  url: string;
  logger: Logger;
  /**
   * A command connection (may be shared); the blocking reply reads always use a connection of their
   * own. With a `transport` it serves only the shared revoked set (none: revokes are only broadcast).
   */
  redis?: Redis;
  /** How requests leave and replies arrive (RabbitMQ's, from @celeriac/broker-amqp); Redis on `url` by default. */
  transport?: PidboxClientTransport;
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
 * publishes on the `celery.pidbox` fanout and collects the replies from its own
 * `<oid>.reply.celery.pidbox` queue (made ready before publishing), as kombu's Mailbox, over a
 * PidboxClientTransport (Redis unless one is given). One broadcast runs at a time per client
 * (they share the reply queue).
 */
export class ControlClient {
  /** The reply routing key (kombu's `oid`). */
  readonly oid = uuid4();
  readonly clock: LamportClock;
  /** The command connection this client opened (closed with it). */
  private readonly ownRedis: Redis | undefined;
  private readonly transport: PidboxClientTransport;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private aborted = false;
  private readonly revokes: RevokedSet | undefined;

  constructor(private readonly options: ControlClientOptions) {
    this.clock = options.clock ?? new LamportClock();
    const keyPrefix = options.keyPrefix ?? '';
    let redis = options.redis;
    if (options.transport !== undefined) {
      this.transport = options.transport;
    } else {
      if (redis === undefined) {
        redis = createRedisConnection(options.url, 'control-client', options.logger);
        this.ownRedis = redis;
      }
      this.transport = new RedisPidboxClient({ url: options.url, redis, logger: options.logger, keyPrefix });
    }
    this.revokes =
      options.shareRevokes === false || redis === undefined
        ? undefined
        : new RevokedSet({ redis, logger: options.logger, keyPrefix, syncIntervalMs: 0 });
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
    this.transport.abort();
  }

  /** Closes its connections; pending broadcasts finish first. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.transport.close();
    if (this.ownRedis !== undefined) await closeRedisConnection(this.ownRedis);
  }

  private async broadcastNow(command: string, args: Record<string, unknown>, options: BroadcastOptions) {
    const timeoutMs = options.timeoutMs ?? 1_000;
    const wantReply = options.reply ?? true;
    const limit = options.limit ?? (options.destination?.length || undefined);
    const ticket = wantReply ? uuid4() : undefined;
    const queue = replyQueueName(this.oid);
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
    const serializer = this.options.serializer ?? 'json';
    try {
      if (ticket !== undefined) await this.transport.openReplies(queue, REPLY_EXCHANGE, this.oid);
      await this.transport.publish({
        exchange: PIDBOX_EXCHANGE,
        routingKey: '',
        headers: { clock: this.clock.forward(), expires: pyFloat((Date.now() + timeoutMs) / 1000) },
        deliveryMode: 2,
        serializer,
        body: serializeBody(body, serializer),
      });
      if (ticket === undefined) return [];
      return await this.collect(ticket, timeoutMs, limit);
    } catch (err) {
      throw new ControlUnavailableError(this.options.url, `broadcast of ${command}`, err);
    } finally {
      if (ticket !== undefined) await this.transport.closeReplies(queue, REPLY_EXCHANGE, this.oid);
    }
  }

  private async collect(ticket: string, timeoutMs: number, limit: number | undefined) {
    const replies: NodeReply[] = [];
    const deadline = Date.now() + timeoutMs;
    while (limit === undefined || replies.length < limit) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0 || this.aborted) break;
      const message = await this.transport.nextReply(remainingMs);
      if (message === null) break;
      const decoded = decodeBody(message.body, message.contentType, message.headers);
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
