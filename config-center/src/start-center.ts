import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { type Logger, redactUrl } from '@celeriac/logger';
import { REDIS_URL_SCHEMES, urlScheme } from '@celeriac/redis-connection/url';
import type { FastifyInstance } from 'fastify';
import { buildServer, type CenterServerOptions, type CenterTls } from './build-server.js';
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
  /** `file` (default) or a Redis URL (redis://, rediss://, redis+socket://, unix://, sentinel://...?master_name=). */
  store?: string | ConfigStore;
  /** Serve HTTPS with this PEM certificate (chain) and private key files (`--tls-cert`, `--tls-key`). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /**
   * Pending connections the kernel queues before the center accepts them; default 8192 (the
   * kernel caps it at net.core.somaxconn). Thousands of agents reconnect at once after a fan-out.
   */
  listenBacklog?: number;
}

/**
 * Reads and checks `--tls-cert` and `--tls-key`: both or neither, readable, PEM, and a key that
 * belongs to the certificate. Undefined when neither is given (plain HTTP).
 */
export function readTlsFiles(certFile: string | undefined, keyFile: string | undefined): CenterTls | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new CenterStartError(
      'CENTER_BAD_OPTION',
      `${certFile === undefined ? '--tls-key' : '--tls-cert'} was given without ${certFile === undefined ? '--tls-cert' : '--tls-key'}; HTTPS needs both the certificate and its private key`,
    );
  }
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new CenterStartError(
        'CENTER_BAD_OPTION',
        `cannot read ${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  };
  const tls: CenterTls = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new CenterStartError(
      'CENTER_BAD_OPTION',
      `--tls-cert ${certFile} and --tls-key ${keyFile} cannot serve HTTPS (${(error as Error).message}): give a PEM certificate and the private key it was issued for`,
      { cause: error },
    );
  }
  return tls;
}

/** A center that listens. */
export interface RunningCenter {
  /** `http://host:port` (or `https://` with TLS) it answers on. */
  url: string;
  server: FastifyInstance;
  /** Stops listening, answers held long-polls with 304, closes the store. Idempotent. */
  close(): Promise<void>;
}

/** Listen backlog unless told otherwise (Node's default of 511 overflowed with 5,000 agents). */
export const DEFAULT_LISTEN_BACKLOG = 8192;

/** Builds the store named by `--store`: `file` or a Redis URL. */
export function createStore(spec: string, dataDir: string, logger: Logger): ConfigStore {
  if (spec === 'file') return new FileStore({ dataDir, logger });
  if ((REDIS_URL_SCHEMES as readonly string[]).includes(urlScheme(spec) ?? ''))
    return new RedisStore({ url: spec, logger });
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
  const tls = options.tls ?? readTlsFiles(options.tlsCertFile, options.tlsKeyFile);
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
    // Rollout state lives next to the file store's log (its description is `file:<absolute dir>`);
    // the Redis store keeps it in Redis, shared by the replicas (build-server.ts).
    const rolloutStateFile =
      store instanceof FileStore ? `${store.description.slice('file:'.length)}/rollouts.json` : undefined;
    server = await buildServer({
      ...options,
      store,
      ...(tls ? { tls } : {}),
      ...(rolloutStateFile ? { rolloutStateFile } : {}),
    });
    try {
      await server.listen({ host, port, backlog: options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG });
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
  const url = urlOf(tls ? 'https' : 'http', host, typeof address === 'object' && address ? address.port : port);
  options.logger.info(
    { event: 'center.listening', url, store: store.description, tls: tls !== undefined },
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

function urlOf(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
