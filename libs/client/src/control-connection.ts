import { globalKeyPrefixFromSettings } from '@celeriac/broker';
import { AmqpControlConnection, AmqpPidboxClient, amqpPlaneSettings, isAmqpUrl } from '@celeriac/broker-amqp';
import { ControlClient } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import type { Serializer } from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import { redisUrlFromSettings } from '@celeriac/redis-connection/url';
import type { Redis } from 'ioredis';

/**
 * The ControlClient of an app's settings, on the broker it names: kombu's Redis pidbox on a Redis
 * broker, RabbitMQ's exchanges on an AMQP one. On RabbitMQ the shared revoked set lives in the
 * result backend's Redis (where Celeriac workers on RabbitMQ read it); without a result backend,
 * revokes are only broadcast (workers started later learn them through mingle).
 */
export class ControlConnection {
  readonly client: ControlClient;
  private readonly revokeRedis: Redis | undefined;

  constructor(settings: Readonly<Record<string, unknown>>, logger: Logger) {
    const url = String(settings.broker_url);
    const serializer = (settings.task_serializer === 'msgpack' ? 'msgpack' : 'json') as Serializer;
    if (!isAmqpUrl(url)) {
      this.client = new ControlClient({ url, logger, serializer, keyPrefix: globalKeyPrefixFromSettings(settings) });
      return;
    }
    const hasBackend = settings.result_backend !== undefined && settings.result_backend !== null;
    this.revokeRedis = hasBackend
      ? createRedisConnection(redisUrlFromSettings('result_backend', settings), 'control-revokes', logger)
      : undefined;
    const { heartbeatSec: _inEndpoints, ...queues } = amqpPlaneSettings(settings);
    this.client = new ControlClient({
      url,
      logger,
      serializer,
      transport: new AmqpPidboxClient({
        connection: new AmqpControlConnection({ url, settings, logger }),
        logger,
        ownsConnection: true,
        ...queues,
      }),
      ...(this.revokeRedis !== undefined ? { redis: this.revokeRedis } : {}),
    });
  }

  /** Closes the client and the connections it opened. Idempotent. */
  async close(): Promise<void> {
    await this.client.close();
    if (this.revokeRedis !== undefined) await closeRedisConnection(this.revokeRedis);
  }
}
