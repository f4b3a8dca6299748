import { type Logger, redactUrl } from '@celeriac/logger';
import type { Channel, ChannelModel } from 'amqplib';
import { type AmqpEndpoints, connectFirst } from './amqp-connector.js';
import { amqpPlaneEndpoints } from './amqp-plane-settings.js';

export interface AmqpControlConnectionOptions {
  /** `amqp://`, `amqps://` or `pyamqp://` URL of the broker, or kombu's `;` failover list of them. */
  url: string;
  /**
   * The app's Celery settings: `broker_use_ssl`, `broker_failover_strategy`, `broker_heartbeat`
   * and `broker_connection_timeout` apply to this connection as to the task broker's.
   */
  settings?: Readonly<Record<string, unknown>>;
  logger: Logger;
  /** First wait before reconnecting after a loss (doubles up to 10 s); default 500 ms. */
  reconnectDelayMs?: number;
  /** The `connection_name` RabbitMQ shows (`rabbitmqctl list_connections client_properties`); default `celeriac control plane`. */
  connectionName?: string;
}

const MAX_RECONNECT_DELAY_MS = 10_000;

/** The default `connection_name` RabbitMQ shows for a control-plane connection. */
export const CONTROL_CONNECTION_NAME = 'celeriac control plane';

/** The endpoints with the `connection_name` client property RabbitMQ shows for this connection. */
type NamedEndpoints = AmqpEndpoints & { clientProperties: { connection_name: string } };

/**
 * The RabbitMQ connection of a node's control and event plane (pidbox, replies, celeryev), apart
 * from the task broker's so a busy consume channel never delays `inspect ping`. It dials as the
 * task broker does (`connectFirst`: the failover list, `broker_use_ssl`, the connect timeout).
 * Connects on first use; after a loss it reconnects with capped backoff, from the URL after the
 * lost one, and calls the `onRestored` hooks so the pidbox queue is declared and consumed again.
 * Channels are the users' own: a channel error (e.g. a refused declare) closes that channel only.
 * AMQP_URL_INVALID from the constructor when the URL or a setting is wrong.
 */
export class AmqpControlConnection {
  private connection: ChannelModel | null = null;
  private connecting: Promise<ChannelModel> | null = null;
  private readonly restoredHooks = new Set<() => void>();
  private readonly endpoints: NamedEndpoints;
  /** Where the next dial starts in the failover list: the URL after the one last connected. */
  private nextStart = 0;
  private connectedUrl: string;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lostOnce = false;

  constructor(private readonly o: AmqpControlConnectionOptions) {
    this.endpoints = {
      ...amqpPlaneEndpoints(o.url, o.settings ?? {}),
      clientProperties: { connection_name: o.connectionName ?? CONTROL_CONNECTION_NAME },
    };
    this.connectedUrl = redactUrl(this.endpoints.urls[0] as string);
  }

  /** A new channel (connecting first when needed). */
  async openChannel(): Promise<Channel> {
    const connection = await this.connect();
    return connection.createChannel();
  }

  /** Calls `hook` every time the connection is back after a loss (not on the first connect). */
  onRestored(hook: () => void): () => void {
    this.restoredHooks.add(hook);
    return () => this.restoredHooks.delete(hook);
  }

  private connect(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new Error('the AMQP control connection is closed'));
    if (this.connection !== null) return Promise.resolve(this.connection);
    this.connecting ??= this.dial().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async dial(): Promise<ChannelModel> {
    const { connection, index } = await connectFirst(this.endpoints, this.nextStart);
    if (this.closed) {
      await connection.close().catch(() => undefined);
      throw new Error('the AMQP control connection is closed');
    }
    connection.on('error', () => undefined); // 'close' follows and is what we act on
    connection.on('close', (err?: Error) => this.onLost(connection, err));
    this.connection = connection;
    this.nextStart = index + 1;
    this.connectedUrl = redactUrl(this.endpoints.urls[index] as string);
    return connection;
  }

  private onLost(connection: ChannelModel, err?: Error): void {
    if (this.connection !== connection) return;
    this.connection = null;
    if (this.closed) return;
    this.lostOnce = true;
    this.o.logger.error(
      { event: 'control.amqp_connection_lost', url: this.connectedUrl, err },
      'The RabbitMQ connection of the control plane was lost; reconnecting (inspect/control and events pause meanwhile)',
    );
    this.scheduleReconnect(this.o.reconnectDelayMs ?? 500);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          if (!this.lostOnce) return;
          this.o.logger.info(
            { event: 'control.amqp_connection_restored', url: this.connectedUrl },
            'The RabbitMQ connection of the control plane is back',
          );
          for (const hook of this.restoredHooks) hook();
        },
        () => this.scheduleReconnect(Math.min(delayMs * 2, MAX_RECONNECT_DELAY_MS)),
      );
    }, delayMs);
    this.timer.unref();
  }

  /** Closes the connection and stops reconnecting. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const connection = this.connection ?? (await this.connecting?.catch(() => null)) ?? null;
    this.connection = null;
    await connection?.close().catch(() => undefined);
  }
}

/**
 * kombu headers as amqplib field values: a Python float (a wrapper with `toJSON`, like the control
 * plane's PyFloat) is sent as an AMQP double, so `2.0` stays a float for a Python reader.
 */
export function amqpHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      const plain = (value as { toJSON(): unknown }).toJSON();
      out[key] = typeof plain === 'number' ? { '!': 'double', value: plain } : plain;
    } else out[key] = value;
  }
  return out;
}
