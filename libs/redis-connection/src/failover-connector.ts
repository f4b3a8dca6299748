import { createConnection } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { AbstractConnector, type RedisOptions } from 'ioredis';
import type { RedisFailoverStrategy } from './redis-url.js';

/** One server of a failover list: where ioredis connects, and the URL to name it by (redacted). */
export interface FailoverEndpoint {
  shownUrl: string;
  host?: string;
  port?: number;
  path?: string;
  tls?: ConnectionOptions;
}

/** The servers, kombu's strategy, and who hears of a switch. */
export interface FailoverPlan {
  endpoints: readonly FailoverEndpoint[];
  strategy: RedisFailoverStrategy;
  /** Called when a connect goes to another server than the last one (for the `redis.failover` log). */
  onSwitch: (from: FailoverEndpoint, to: FailoverEndpoint) => void;
}

type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** The index after `current`: the next one (round-robin), or any one at random (kombu's shufflecycle). */
function nextIndex(current: number, count: number, strategy: RedisFailoverStrategy): number {
  return strategy === 'shuffle' ? Math.floor(Math.random() * count) : (current + 1) % count;
}

/**
 * An ioredis `Connector` (its `Connector` option) for kombu's failover lists: the first connect
 * goes to the first URL, and every later one (ioredis reconnects after a failed connect or a lost
 * connection) to the next URL by the strategy, as kombu's `maybe_switch_next` does on each
 * connection error. The server's address and TLS are set on ioredis's options before each connect,
 * so ioredis waits for the right event (`secureConnect` with TLS) and reports the current server.
 */
export function failoverConnector(plan: FailoverPlan): new (options: unknown) => AbstractConnector {
  const count = plan.endpoints.length;
  return class FailoverConnector extends AbstractConnector {
    private current = 0;
    private connects = 0;
    private readonly options: RedisOptions;

    constructor(options: unknown) {
      const redisOptions = options as RedisOptions;
      super(redisOptions.disconnectTimeout ?? 2_000);
      this.options = redisOptions;
    }

    connect(): Promise<NetStream> {
      if (this.connects > 0) {
        const from = this.current;
        this.current = nextIndex(from, count, plan.strategy);
        if (this.current !== from) plan.onSwitch(plan.endpoints[from] as FailoverEndpoint, this.endpoint());
      }
      this.connects += 1;
      const endpoint = this.endpoint();
      const options = this.options;
      options.host = endpoint.host;
      options.port = endpoint.port;
      options.path = endpoint.path;
      options.tls = endpoint.tls;
      this.connecting = true;
      // As ioredis's StandaloneConnector: the stream is made on the next tick, and its first error kept.
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) {
            reject(new Error('Connection is closed.'));
            return;
          }
          try {
            if (endpoint.path !== undefined) this.stream = createConnection({ path: endpoint.path });
            else if (endpoint.tls)
              this.stream = tlsConnect({ host: endpoint.host, port: endpoint.port, ...endpoint.tls });
            else this.stream = createConnection({ host: endpoint.host as string, port: endpoint.port as number });
          } catch (error) {
            reject(error);
            return;
          }
          this.stream.once('error', (error: Error) => {
            this.firstError = error;
          });
          resolve(this.stream);
        });
      });
    }

    private endpoint(): FailoverEndpoint {
      return plan.endpoints[this.current] as FailoverEndpoint;
    }
  };
}
