import { RedisBroker } from '@celeriac/broker';
import { type Logger, redactUrl } from '@celeriac/logger';
import { type BrokerSettings, redisBrokerDialUrl } from './broker-connection-key.js';
import { isRedisBrokerUrl, NotRedisNotice } from './redis-broker-only.js';

/**
 * Puts a dead worker's unacknowledged tasks back on their queues at once (instead of after the
 * visibility timeout) through `RedisBroker.restoreOwner('<name>:<pid>')`. One broker connection
 * per broker URL and key prefix (kombu's `global_keyprefix` of the worker's settings), opened on first use.
 * On a broker that is not Redis (RabbitMQ: the broker requeues a closed connection's unacked
 * messages itself) there is nothing to restore: it says so once (`agent.restore_not_needed`).
 */
export class OwnerRestorer {
  private readonly brokers = new Map<string, Promise<RedisBroker>>();
  private readonly notRedis: NotRedisNotice;
  private closed = false;
  /** Owners restored and tasks put back, for metrics. */
  restores = 0;
  tasks = 0;

  constructor(private readonly logger: Logger) {
    this.notRedis = new NotRedisNotice(
      logger,
      'agent.restore_not_needed',
      (scheme) =>
        `the broker is ${scheme}://, not Redis: it gives a dead worker's unacknowledged messages back itself when the connection closes, so the agent restores nothing (said once)`,
    );
  }

  /**
   * Restores what `ownerId` held on `brokerUrl` under `keyPrefix` (the worker's `global_keyprefix`,
   * '' = none), dialled with `settings` (broker_use_ssl, broker_transport_options,
   * broker_failover_strategy) as the worker connects; resolves with the number of tasks put back
   * (errors are logged, 0).
   */
  async restore(brokerUrl: string, ownerId: string, keyPrefix = '', settings: BrokerSettings = {}): Promise<number> {
    if (this.closed) return 0;
    if (!isRedisBrokerUrl(brokerUrl)) {
      this.notRedis.note(brokerUrl);
      return 0;
    }
    try {
      const broker = await this.broker(redisBrokerDialUrl(brokerUrl, settings), keyPrefix);
      const count = await broker.restoreOwner(ownerId);
      this.restores += 1;
      this.tasks += count;
      if (count > 0) {
        this.logger.info(
          { event: 'agent.tasks_restored', owner: ownerId, tasks: count },
          'put a dead worker’s unacknowledged tasks back',
        );
      }
      return count;
    } catch (error) {
      this.logger.error(
        { event: 'agent.restore_failed', owner: ownerId, broker: redactUrl(brokerUrl), err: error },
        'could not restore a dead worker’s tasks; they come back after the visibility timeout',
      );
      return 0;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const brokers = [...this.brokers.values()];
    this.brokers.clear();
    await Promise.all(brokers.map(async (b) => (await b.catch(() => undefined))?.close()));
  }

  private broker(url: string, keyPrefix: string): Promise<RedisBroker> {
    const id = JSON.stringify([url, keyPrefix]);
    let broker = this.brokers.get(id);
    if (!broker) {
      broker = (async () => {
        const b = new RedisBroker({ url, logger: this.logger, transport: { globalKeyPrefix: keyPrefix } });
        await b.start();
        return b;
      })();
      broker.catch(() => this.brokers.delete(id));
      this.brokers.set(id, broker);
    }
    return broker;
  }
}
