import { ControlClient, ControlUnavailableError } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { closeRedisConnection, createRedisConnection, RedisTlsError } from '@celeriac/redis-connection';

type RedisConnection = ReturnType<typeof createRedisConnection>;

/**
 * The worker probe's ControlClient on a Redis broker, on a command connection of its own to
 * `dialUrl` (the program's broker URL with its TLS, Sentinel and failover settings folded in). The
 * connection is opened at once, so that a refusal no retry can cure (a certificate the settings'
 * CA did not sign, an unreadable ssl_* file) is what `ready()` rejects with, wrapped as
 * CONTROL_UNAVAILABLE with the RedisTlsError as its cause, at every probe: ioredis itself ends such
 * a connection and answers later commands with only "Connection is closed.". Other failures (the
 * server down) are left to the connection's reconnects and show in the probe's own commands.
 */
export class RedisProbeClient {
  readonly control: ControlClient | undefined;
  private readonly redis: RedisConnection | undefined;
  private refused: RedisTlsError | undefined;
  private readonly connecting: Promise<void>;
  private readonly createdAt = Date.now();

  constructor(
    private readonly dialUrl: string,
    keyPrefix: string,
    logger: Logger,
  ) {
    try {
      this.redis = createRedisConnection(dialUrl, 'agent-probe', logger);
    } catch (error) {
      // An unreadable ssl_ca_certs / ssl_certfile / ssl_keyfile (REDIS_TLS_FILE).
      if (!(error instanceof RedisTlsError)) throw error;
      this.refused = error;
      this.connecting = Promise.resolve();
      return;
    }
    this.control = new ControlClient({ url: dialUrl, redis: this.redis, keyPrefix, logger, shareRevokes: false });
    this.connecting = this.redis.connect().then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof RedisTlsError) this.refused = error;
      },
    );
  }

  /** The ControlClient once the first connect settled; rejects with CONTROL_UNAVAILABLE when TLS was refused. */
  async ready(): Promise<ControlClient> {
    await this.connecting;
    if (this.refused !== undefined || this.control === undefined) {
      throw new ControlUnavailableError(this.dialUrl, 'connect', this.refused);
    }
    return this.control;
  }

  /**
   * Whether TLS was refused and this client is older than `ms`: then the probe dials anew (a CA
   * file fixed in place, a server certificate renewed), instead of staying refused until the
   * program's settings change.
   */
  refusedFor(ms: number): boolean {
    return this.refused !== undefined && Date.now() - this.createdAt >= ms;
  }

  /** Closes the ControlClient and the command connection; never throws. */
  async close(): Promise<void> {
    await this.control?.close().catch(() => undefined);
    if (this.redis !== undefined) await closeRedisConnection(this.redis);
  }
}
