import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { CliError, EXIT } from './ops/cli-errors.js';

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on `port` of 127.0.0.1. */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Resolves once a redis-server accepts connections on `port` of 127.0.0.1; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new CliError(
    'CLI_UP_FAILED',
    `redis-server did not listen on port ${port} within ${timeoutMs} ms; see whether it starts by hand, or pass --broker redis://...`,
    EXIT.other,
  );
}

/**
 * Spawns a redis-server on 127.0.0.1:`port` without persistence (its working files in `dir`).
 * `detached` gives it its own process group, so a Ctrl-C in the terminal does not reach it.
 */
export function spawnRedisServer(port: number, dir: string, options: { detached?: boolean } = {}): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore', detached: options.detached ?? false },
  );
}
