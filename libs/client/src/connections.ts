import { brokerOptionsFromCelery, type TaskBroker } from '@celeriac/broker';
import { brokerForUrl, isAmqpUrl } from '@celeriac/broker-amqp';
import type { Logger } from '@celeriac/logger';
import { SerializerUnsupportedError } from '@celeriac/protocol';
import { type RedisRole, RedisUrlError, redisUrlFromSettings } from '@celeriac/redis-connection/url';
import {
  RedisResultBackend,
  ResultBackendArgumentError,
  resultBackendRetryFromSettings,
} from '@celeriac/result-backend';
import { ClientClosedError, ConfigError } from './errors.js';

/**
 * The app's two Redis clients, the broker and the result backend: each created from the settings
 * on first use and started once, with a failed start retried by the next caller.
 */
export class AppConnections {
  private brokerInstance: TaskBroker | undefined;
  private brokerStarted: Promise<TaskBroker> | undefined;
  private backendInstance: RedisResultBackend | undefined;
  private backendStarted: Promise<RedisResultBackend> | undefined;
  // Set by close(): from then on no connection is opened again.
  private closed = false;

  constructor(
    private readonly settings: () => Readonly<Record<string, unknown>>,
    private readonly logger: () => Logger,
  ) {}

  /** The broker client (created on first use, not started). */
  broker(): TaskBroker {
    if (!this.brokerInstance) {
      if (this.closed) throw new ClientClosedError('open a broker connection');
      const s = this.settings();
      // RabbitMQ URLs go to the AMQP transport as given; Redis ones get their options folded in.
      const url = isAmqpUrl(s.broker_url) ? s.broker_url : redisUrl('broker', s);
      const transport = (s.broker_transport_options ?? {}) as Record<string, unknown>;
      const visibility = transport.visibility_timeout;
      this.brokerInstance = brokerForUrl({
        url,
        logger: this.logger(),
        settings: s,
        redis: {
          ...brokerOptionsFromCelery(s),
          ...(typeof visibility === 'number' ? { visibilityTimeoutMs: visibility * 1000 } : {}),
        },
      });
    }
    return this.brokerInstance;
  }

  /**
   * The result backend client (created on first use, not started); without `result_backend` the
   * broker's Redis. It reads json and msgpack documents and accepts the serializers of
   * `result_accept_content` (or `accept_content` when that is unset), as Celery does.
   */
  backend(): RedisResultBackend {
    if (!this.backendInstance) {
      if (this.closed) throw new ClientClosedError('open a result backend connection');
      const s = this.settings();
      if (isAmqpUrl(s.broker_url) && (s.result_backend === undefined || s.result_backend === null)) {
        throw new ConfigError(
          'result_backend is not set and the broker is RabbitMQ: set result_backend to a redis:// URL ' +
            '(results are stored on Redis; the broker keeps only the task messages)',
        );
      }
      const url = redisUrl('result_backend', s);
      const expires = s.result_expires;
      try {
        this.backendInstance = new RedisResultBackend({
          url,
          logger: this.logger(),
          serializer: s.result_serializer,
          acceptContent: acceptList(s),
          // result_backend_always_retry and co, read as the worker reads them (one retry, in the backend).
          retry: resultBackendRetryFromSettings(s),
          ...(typeof expires === 'number' ? { resultExpiresSec: expires } : {}),
        });
      } catch (error) {
        if (error instanceof SerializerUnsupportedError || error instanceof ResultBackendArgumentError) {
          throw new ConfigError(error.message, { cause: error });
        }
        throw error;
      }
    }
    return this.backendInstance;
  }

  /** The broker, started. */
  startedBroker(): Promise<TaskBroker> {
    let started = this.brokerStarted;
    if (!started) {
      const instance = this.broker();
      started = instance.start().then(() => instance);
      this.brokerStarted = started;
      // A failed start is retried by the next caller (e.g. Redis was briefly unreachable).
      started.catch(() => {
        if (this.brokerStarted === started) this.brokerStarted = undefined;
      });
    }
    return started;
  }

  /** The result backend, started. */
  startedBackend(): Promise<RedisResultBackend> {
    let started = this.backendStarted;
    if (!started) {
      const instance = this.backend();
      started = instance.start().then(() => instance);
      this.backendStarted = started;
      // A failed start is retried by the next caller (e.g. Redis was briefly unreachable).
      started.catch(() => {
        if (this.backendStarted === started) this.backendStarted = undefined;
      });
    }
    return started;
  }

  /** Closes both clients (after a start in progress settles); no connection opens afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const closes: Promise<unknown>[] = [];
    if (this.brokerInstance) {
      const broker = this.brokerInstance;
      closes.push((this.brokerStarted ?? Promise.resolve()).catch(() => {}).then(() => broker.close()));
    }
    if (this.backendInstance) {
      const backend = this.backendInstance;
      closes.push((this.backendStarted ?? Promise.resolve()).catch(() => {}).then(() => backend.close()));
    }
    await Promise.all(closes);
  }
}

/** Celery's precedence: `result_accept_content`, else `accept_content`, else json only. */
function acceptList(s: Readonly<Record<string, unknown>>): string[] {
  for (const name of ['result_accept_content', 'accept_content'] as const) {
    const value = s[name];
    if (value === null || value === undefined) continue;
    if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
      throw new ConfigError(
        `${name} must be a list of serializer names or content types, got ${JSON.stringify(value)}`,
      );
    }
    return value as string[];
  }
  return ['json'];
}

/**
 * The broker or result backend URL with its transport options and TLS dict folded in (the one
 * parser of @celeriac/redis-connection), or a ConfigError naming the setting.
 */
function redisUrl(role: RedisRole, s: Readonly<Record<string, unknown>>): string {
  try {
    return redisUrlFromSettings(role, s);
  } catch (error) {
    if (error instanceof RedisUrlError) throw new ConfigError(error.message, { cause: error });
    throw error;
  }
}
