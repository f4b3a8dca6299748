import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { type CommandContext, commandHandler, NO_REPLY } from './control-commands.js';
import { nok, pyExceptionRepr, thrownRepr } from './control-replies.js';
import type { ControlTarget } from './control-target.js';
import { ControlClosedError, ControlUnavailableError } from './errors.js';
import type { EventDispatcher } from './event-dispatcher.js';
import { type DecodedEnvelope, decodeEnvelope, encodeEnvelope } from './kombu-envelope.js';
import { LamportClock } from './lamport-clock.js';
import { pidboxMatch } from './pidbox-match.js';
import type { RevokedSet } from './revoked-set.js';
import {
  bindingKey,
  bindingMember,
  fanoutChannel,
  nodeQueueName,
  PIDBOX_EXCHANGE,
  parseBindingMember,
  priorityLists,
  redisDbFromUrl,
} from './wire-names.js';
import type { WorkerHeart } from './worker-heart.js';

export interface ControlServerOptions {
  /** Broker URL (its db names the fanout channel `/<db>.celery.pidbox`). */
  url: string;
  target: ControlTarget;
  revoked: RevokedSet;
  logger: Logger;
  /** A command connection for SADD/SMEMBERS/LPUSH (may be shared); without one the server opens its own. */
  redis?: Redis;
  /** The worker's clock, shared with the EventDispatcher. */
  clock?: LamportClock;
  /** Answers `enable_events` / `disable_events`. */
  events?: EventDispatcher;
  /** Answers `heartbeat`. */
  heart?: WorkerHeart;
  keyPrefix?: string;
  /**
   * Longest a command may take (default 10 s). Commands run one at a time, as in Celery: past this
   * the command is abandoned (logged, `{'error': 'TimeoutError(...)'}` replied) so `ping` keeps answering.
   */
  commandTimeoutMs?: number;
}

export type ControlServerState = 'idle' | 'starting' | 'listening' | 'stopping' | 'stopped' | 'failed';

interface PidboxRequest {
  method: string;
  arguments?: unknown;
  destination?: unknown;
  pattern?: unknown;
  matcher?: unknown;
  ticket?: unknown;
  reply_to?: { exchange?: unknown; routing_key?: unknown } | null;
}

/**
 * A Celery 5.2 remote-control node (kombu `pidbox.Node` + celery/worker/control.py) on Redis: binds
 * `<hostname>.celery.pidbox` to the `celery.pidbox` fanout exchange, PSUBSCRIBEs `/<db>.celery.pidbox`
 * on a connection of its own, runs each request meant for it (in arrival order) and LPUSHes
 * `{hostname: reply}` onto the queues bound to the request's `reply_to`.
 */
export class ControlServer {
  readonly clock: LamportClock;
  private readonly redis: Redis;
  private readonly ownsRedis: boolean;
  private subscriber: Redis | undefined;
  private readonly channel: string;
  private readonly binding: { key: string; member: string };
  private readonly ctx: CommandContext;
  private current: ControlServerState = 'idle';
  private chain: Promise<void> = Promise.resolve();
  private readonly keyPrefix: string;

  constructor(private readonly options: ControlServerOptions) {
    this.clock = options.clock ?? new LamportClock();
    this.keyPrefix = options.keyPrefix ?? '';
    this.ownsRedis = options.redis === undefined;
    this.redis = options.redis ?? createRedisConnection(options.url, 'pidbox-commands', options.logger);
    this.channel = fanoutChannel(redisDbFromUrl(options.url), PIDBOX_EXCHANGE, '', this.keyPrefix);
    this.binding = {
      key: bindingKey(PIDBOX_EXCHANGE, this.keyPrefix),
      member: bindingMember('', nodeQueueName(options.target.hostname)),
    };
    this.ctx = {
      target: options.target,
      clock: this.clock,
      revoked: options.revoked,
      events: options.events,
      heart: options.heart,
      logger: options.logger,
      startedAt: Date.now(),
      brokerUrl: options.url,
    };
  }

  get state(): ControlServerState {
    return this.current;
  }

  get hostname(): string {
    return this.options.target.hostname;
  }

  private setState(next: ControlServerState): void {
    const from = this.current;
    this.current = next;
    this.options.logger.info(
      { event: 'control.server.state', from, to: next, node: this.hostname },
      `pidbox server ${next}`,
    );
  }

  /** Binds and subscribes; resolves once requests are being received. */
  async start(): Promise<void> {
    if (this.current !== 'idle') throw new ControlClosedError('ControlServer', 'start()', this.current);
    this.setState('starting');
    const subscriber = createRedisConnection(this.options.url, 'pidbox-subscriber', this.options.logger);
    this.subscriber = subscriber;
    try {
      await this.redis.sadd(this.binding.key, this.binding.member);
      subscriber.on('pmessage', (_pattern: string, _channel: string, message: string) => {
        this.chain = this.chain.then(() => this.handle(message));
      });
      await subscriber.psubscribe(this.channel);
      // Redis may come back empty after a restart: bind again whenever the subscriber reconnects.
      subscriber.on('ready', () => {
        this.redis.sadd(this.binding.key, this.binding.member).catch((err: unknown) => {
          this.options.logger.warn({ event: 'control.rebind_failed', err }, 'could not re-bind the pidbox queue');
        });
      });
    } catch (err) {
      this.setState('failed');
      await this.closeConnections();
      throw new ControlUnavailableError(this.options.url, 'pidbox bind', err);
    }
    this.setState('listening');
  }

  /** Unbinds (SREM, DEL of the node queue lists) and unsubscribes, as Celery's warm shutdown does. Idempotent. */
  async close(): Promise<void> {
    if (this.current === 'stopped' || this.current === 'stopping') return;
    if (this.current === 'idle' || this.current === 'failed') {
      this.setState('stopped');
      await this.closeConnections();
      return;
    }
    this.setState('stopping');
    await this.subscriber?.punsubscribe().catch(() => undefined);
    if ((await raceTimeout(this.chain, 2_000)) === TIMED_OUT) {
      this.options.logger.warn({ event: 'control.close_timeout' }, 'a control command was still running at close');
    }
    try {
      await this.redis
        .multi()
        .srem(this.binding.key, this.binding.member)
        .del(...priorityLists(nodeQueueName(this.hostname), this.keyPrefix))
        .exec();
    } catch (err) {
      this.options.logger.warn({ event: 'control.unbind_failed', err }, 'could not unbind the pidbox queue');
    }
    await this.closeConnections();
    this.setState('stopped');
  }

  private async closeConnections(): Promise<void> {
    if (this.subscriber) await closeRedisConnection(this.subscriber);
    this.subscriber = undefined;
    if (this.ownsRedis) await closeRedisConnection(this.redis);
  }

  /** Runs one raw request; never throws. */
  private async handle(raw: string): Promise<void> {
    if (this.current !== 'listening') return;
    const decoded = decodeEnvelope(raw);
    if (!decoded.ok) {
      this.options.logger.warn(
        { event: 'control.bad_message', reason: decoded.reason, detail: decoded.detail },
        'cannot decode a pidbox message',
      );
      return;
    }
    const request = decoded.value.body as PidboxRequest;
    if (request === null || typeof request !== 'object' || typeof request.method !== 'string') {
      this.options.logger.warn({ event: 'control.bad_message', reason: 'no_method' }, 'a pidbox message has no method');
      return;
    }
    // Celery forwards its clock for every request, then kombu merges the request's clock header.
    this.clock.forward();
    this.clock.adjust(decoded.value.headers.clock ?? 0);
    const match = pidboxMatch(this.hostname, request);
    if (match === 'bad_matcher') {
      this.options.logger.warn(
        { event: 'control.bad_matcher', matcher: String(request.matcher) },
        'a pidbox request names an unknown matcher; no reply (as kombu)',
      );
      return;
    }
    if (!match) return;
    const reply = await this.run(request);
    if (reply === NO_REPLY) return;
    const replyTo = request.reply_to;
    if (replyTo && typeof replyTo.exchange === 'string' && typeof replyTo.routing_key === 'string') {
      await this.reply(reply, replyTo.exchange, replyTo.routing_key, request.ticket, decoded.value);
    }
  }

  private async run(request: PidboxRequest): Promise<unknown> {
    const { method } = request;
    const args =
      request.arguments !== null && typeof request.arguments === 'object' && !Array.isArray(request.arguments)
        ? (request.arguments as Record<string, unknown>)
        : {};
    this.options.logger.debug(
      { event: 'control.command', method, has_reply_to: Boolean(request.reply_to) },
      `pidbox received ${method}`,
    );
    const handler = commandHandler(method);
    if (handler === undefined) {
      this.options.logger.error({ event: 'control.unknown_command', method }, `No such control command: ${method}`);
      return nok(pyExceptionRepr('KeyError', method));
    }
    const timeoutMs = this.options.commandTimeoutMs ?? 10_000;
    try {
      const running = Promise.resolve().then(() => handler(this.ctx, args));
      // An abandoned command may still fail later: that must not become an unhandled rejection.
      running.catch(() => undefined);
      const result = await raceTimeout(running, timeoutMs);
      if (result !== TIMED_OUT) return result;
      this.options.logger.error(
        { event: 'control.command_timeout', method, timeout_ms: timeoutMs },
        'a control command did not finish in time; abandoned',
      );
      return nok(pyExceptionRepr('TimeoutError', `${method} did not finish within ${timeoutMs} ms`));
    } catch (err) {
      this.options.logger.error({ event: 'control.command_failed', method, err }, 'pidbox command error');
      return nok(thrownRepr(err));
    }
  }

  private async reply(
    reply: unknown,
    exchange: string,
    routingKey: string,
    ticket: unknown,
    request: DecodedEnvelope,
  ): Promise<void> {
    try {
      const members = await this.redis.smembers(bindingKey(exchange, this.keyPrefix));
      const queues = members
        .map(parseBindingMember)
        .filter((m) => m !== undefined && m.routingKey === routingKey)
        .map((m) => m!.queue);
      if (queues.length === 0) {
        // kombu drops it too (InconsistencyError): the client stopped waiting and unbound its queue.
        this.options.logger.debug({ event: 'control.reply_unroutable', routing_key: routingKey }, 'nobody waits');
        return;
      }
      const envelope = encodeEnvelope(
        { [this.hostname]: reply },
        {
          exchange,
          routingKey,
          headers: { ticket: ticket ?? null, clock: this.clock.forward() },
          deliveryMode: 1,
          serializer: request.serializer,
        },
      );
      const pipeline = this.redis.pipeline();
      for (const queue of queues) pipeline.lpush(this.keyPrefix + queue, envelope);
      await pipeline.exec();
    } catch (err) {
      this.options.logger.warn({ event: 'control.reply_failed', routing_key: routingKey, err }, 'could not reply');
    }
  }
}
