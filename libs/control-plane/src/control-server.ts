import { raceTimeout, TIMED_OUT } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { type CommandContext, commandHandler, NO_REPLY } from './control-commands.js';
import { nok, pyExceptionRepr, thrownRepr } from './control-replies.js';
import type { ControlTarget } from './control-target.js';
import { ControlClosedError, ControlUnavailableError } from './errors.js';
import type { EventDispatcher } from './event-dispatcher.js';
import { type DecodedEnvelope, decodeBody, serializeBody } from './kombu-envelope.js';
import { LamportClock } from './lamport-clock.js';
import { pidboxMatch } from './pidbox-match.js';
import type { PidboxMessage, PidboxNodeTransport } from './pidbox-transport.js';
import { RedisPidboxNode } from './redis-pidbox-node.js';
import type { RevokedSet } from './revoked-set.js';
import { nodeQueueName, PIDBOX_EXCHANGE } from './wire-names.js';
import type { WorkerHeart } from './worker-heart.js';

export interface ControlServerOptions {
  /** Broker URL (on Redis its db names the fanout channel `/<db>.celery.pidbox`; `stats` shows it redacted). */
  url: string;
  target: ControlTarget;
  revoked: RevokedSet;
  logger: Logger;
  /** A command connection for SADD/SMEMBERS/LPUSH (may be shared); without one the server opens its own. */
  redis?: Redis;
  /** How requests arrive and replies leave (RabbitMQ's, from @celeriac/broker-amqp); Redis on `url` by default. */
  transport?: PidboxNodeTransport;
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
 * A Celery 5.2 remote-control node (kombu `pidbox.Node` + celery/worker/control.py): listens on
 * `<hostname>.celery.pidbox`, bound to the `celery.pidbox` fanout exchange, runs each request meant
 * for it (in arrival order) and sends `{hostname: reply}` to the request's `reply_to`. The broker
 * side is a PidboxNodeTransport: Redis (kombu's virtual exchanges) unless one is given.
 */
export class ControlServer {
  readonly clock: LamportClock;
  private readonly redis: Redis | undefined;
  private readonly transport: PidboxNodeTransport;
  private readonly ctx: CommandContext;
  private current: ControlServerState = 'idle';
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControlServerOptions) {
    this.clock = options.clock ?? new LamportClock();
    if (options.transport !== undefined) {
      this.transport = options.transport;
    } else {
      // Opened here only when not shared: closed with the server.
      this.redis =
        options.redis === undefined ? createRedisConnection(options.url, 'pidbox-commands', options.logger) : undefined;
      this.transport = new RedisPidboxNode({
        url: options.url,
        redis: options.redis ?? this.redis!,
        logger: options.logger,
        keyPrefix: options.keyPrefix ?? '',
      });
    }
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
    try {
      await this.transport.listen(nodeQueueName(this.hostname), PIDBOX_EXCHANGE, (message) => {
        this.chain = this.chain.then(() => this.handle(message));
      });
    } catch (err) {
      this.setState('failed');
      await this.closeConnections();
      throw new ControlUnavailableError(this.options.url, 'pidbox bind', err);
    }
    this.setState('listening');
  }

  /** Stops receiving, lets a running command finish (2 s at most), then unbinds, as Celery's warm shutdown does. Idempotent. */
  async close(): Promise<void> {
    if (this.current === 'stopped' || this.current === 'stopping') return;
    if (this.current === 'idle' || this.current === 'failed') {
      this.setState('stopped');
      await this.closeConnections();
      return;
    }
    this.setState('stopping');
    if ((await raceTimeout(this.chain, 2_000)) === TIMED_OUT) {
      this.options.logger.warn({ event: 'control.close_timeout' }, 'a control command was still running at close');
    }
    await this.transport.stop();
    await this.closeConnections();
    this.setState('stopped');
  }

  private async closeConnections(): Promise<void> {
    if (this.redis !== undefined) await closeRedisConnection(this.redis);
  }

  /** Runs one request; never throws. */
  private async handle(message: PidboxMessage): Promise<void> {
    if (this.current !== 'listening') return;
    const decoded = decodeBody(message.body, message.contentType, message.headers);
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
      await this.transport.reply({
        exchange,
        routingKey,
        headers: { ticket: ticket ?? null, clock: this.clock.forward() },
        deliveryMode: 1,
        serializer: request.serializer,
        body: serializeBody({ [this.hostname]: reply }, request.serializer),
      });
    } catch (err) {
      this.options.logger.warn({ event: 'control.reply_failed', routing_key: routingKey, err }, 'could not reply');
    }
  }
}
