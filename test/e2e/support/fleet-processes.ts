import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../support/redis-server.js';
import { CenterApi, eventually } from './center-api.js';
import { type Spawned, spawnCeleriac } from './processes.js';

/** A `celeriac center` started by a test: its process, URL and an admin client. */
export interface CenterProcess {
  proc: Spawned;
  url: string;
  admin: CenterApi;
}

/**
 * Starts `celeriac center` on a free port with its data in `<dir>/center-data`, the admin token in
 * a 0600 file, and its output in `logFile`; resolves once `/healthz` answers.
 */
export async function startCenterProcess(dir: string, adminToken: string, logFile: string): Promise<CenterProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const tokenFile = path.join(dir, 'admin-token');
  writeFileSync(tokenFile, adminToken, { mode: 0o600 });
  const proc = spawnCeleriac(
    [
      'center',
      '--data',
      path.join(dir, 'center-data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-token-file',
      tokenFile,
    ],
    logFile,
  );
  await eventually(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 20_000, 'center healthy');
  return { proc, url, admin: new CenterApi(url, adminToken) };
}

/**
 * Starts `celeriac agent` for `node` against `centerUrl`, with a free metrics port, its state in
 * `stateDir` and its output in `logFile`. `auth` is the flag that carries the token.
 */
export async function startAgentProcess(o: {
  centerUrl: string;
  node: string;
  auth: ['--token' | '--token-file', string];
  stateDir: string;
  heartbeat: string;
  logFile: string;
}): Promise<Spawned> {
  const metricsPort = await freePort();
  return spawnCeleriac(
    [
      'agent',
      '--center',
      o.centerUrl,
      '--node',
      o.node,
      ...o.auth,
      '--state-dir',
      o.stateDir,
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      '--heartbeat',
      o.heartbeat,
    ],
    o.logFile,
  );
}

/** What an agent's `GET /healthz` (on its metrics listener) says of the center and its config. */
export interface AgentHealth {
  center_reachable: boolean;
  applied_revision: number | null;
}

/** Asks the agent whose metrics listener is at `metricsUrl` (`http://host:port`) how it is. */
export async function agentHealth(metricsUrl: string): Promise<AgentHealth> {
  return (await fetch(`${metricsUrl}/healthz`)).json() as Promise<AgentHealth>;
}

/** Waits until the agent at `metricsUrl` says it cannot reach the center; resolves with what it said. */
export function untilCenterUnreachable(metricsUrl: string, timeoutMs: number, what: string): Promise<AgentHealth> {
  return eventually(
    async () => {
      const h = await agentHealth(metricsUrl);
      return h.center_reachable ? undefined : h;
    },
    timeoutMs,
    what,
  );
}

/** Waits until the agent at `metricsUrl` says it reaches the center. */
export async function untilCenterReachable(metricsUrl: string, timeoutMs: number, what: string): Promise<void> {
  await eventually(async () => (await agentHealth(metricsUrl)).center_reachable, timeoutMs, what);
}
