import { type Logger, redactUrl } from '@celeriac/logger';
import type { FastifyInstance } from 'fastify';
import { buildServer, type CenterServerOptions } from './build-server.js';
import { CenterStartError } from './errors.js';
import type { ConfigStore } from './store/config-store.js';
import { FileStore } from './store/file-store.js';
import { RedisStore } from './store/redis-store.js';

/** Options of a listening center. */
export interface StartCenterOptions extends Omit<CenterServerOptions, 'store'> {
  /** Data directory of the file store; default `./data`. */
  dataDir?: string;
  /** `host:port` to listen on; default `127.0.0.1:8700`; port 0 picks a free one. */
  listen?: string;
  /** `file` (default) or a `redis://` / `rediss://` URL. */
  store?: string | ConfigStore;
}

/** A center that listens. */
export interface RunningCenter {
  /** `http://host:port` it answers on. */
  url: string;
  server: FastifyInstance;
  /** Stops listening, answers held long-polls with 304, closes the store. Idempotent. */
  close(): Promise<void>;
}

/** Builds the store named by `--store`: `file` or a Redis URL. */
export function createStore(spec: string, dataDir: string, logger: Logger): ConfigStore {
  if (spec === 'file') return new FileStore({ dataDir, logger });
  if (/^rediss?:\/\//.test(spec)) return new RedisStore({ url: spec, logger });
  throw new CenterStartError(
    'CENTER_BAD_OPTION',
    `--store ${redactUrl(spec)} is not a store; use "file" or a redis://host:port/db URL`,
  );
}

/** Parses `host:port` (`[::1]:8700` for IPv6). */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65_535) {
    throw new CenterStartError('CENTER_BAD_OPTION', `--listen ${listen} is not host:port; use e.g. 127.0.0.1:8700`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** What a started center goes through; each change is logged as `center.state`. */
export type RunningCenterState = 'starting' | 'listening' | 'failed' | 'closing' | 'closed';

/** Opens the store, builds the server and listens. Bad options throw before anything starts. */
export async function startCenter(options: StartCenterOptions): Promise<RunningCenter> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:8700');
  const dataDir = options.dataDir ?? './data';
  const store =
    typeof options.store === 'object' ? options.store : createStore(options.store ?? 'file', dataDir, options.logger);
  let state: RunningCenterState = 'starting';
  const moveTo = (next: RunningCenterState, fields: Record<string, unknown> = {}) => {
    options.logger.info({ event: 'center.state', from: state, to: next, ...fields }, `center ${next}`);
    state = next;
  };
  options.logger.info({ event: 'center.state', from: null, to: state }, 'center starting');
  let server: FastifyInstance;
  try {
    server = await buildServer({ ...options, store });
    try {
      await server.listen({ host, port });
    } catch (error) {
      await server.close();
      throw new CenterStartError(
        'CENTER_LISTEN_FAILED',
        `cannot listen on ${host}:${port}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  } catch (error) {
    moveTo('failed', { err: error });
    throw error;
  }
  const address = server.server.address();
  const url = urlOf(host, typeof address === 'object' && address ? address.port : port);
  options.logger.info(
    { event: 'center.listening', url, store: store.description },
    `config center listening on ${url}`,
  );
  moveTo('listening', { url });
  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close: () => {
      closing ??= (async () => {
        moveTo('closing');
        await server.close();
        moveTo('closed');
      })();
      return closing;
    },
  };
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
