import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { CenterApi, eventually } from './center-api.js';
import type { HostNetwork } from './netns-hosts.js';
import type { Spawned } from './processes.js';

// The processes of a multi-host test, each started on its host of a HostNetwork: redis-server on
// the data network, the center on the control network, one agent per host.

/** The redis-server of a multi-host test: URLs of its databases and a client on database 0. */
export interface HostRedis {
  url: (db: number) => string;
  db: Redis;
}

/**
 * Starts redis-server (no persistence, data in `<dir>/redis`) on the network's Redis host, on its
 * data address; resolves once it answers PING.
 */
export async function startHostRedis(network: HostNetwork, dir: string, logFile: string): Promise<HostRedis> {
  const port = await network.port(6379);
  const host = network.redis.dataAddress;
  mkdirSync(path.join(dir, 'redis'));
  network.spawn(
    network.redis,
    'redis-server',
    [
      ...['--port', String(port), '--bind', host, '--protected-mode', 'no'],
      ...['--save', '', '--appendonly', 'no', '--dir', path.join(dir, 'redis')],
    ],
    logFile,
  );
  const url = (n: number) => `redis://${host}:${port}/${n}`;
  const db = new Redis(url(0));
  db.on('error', () => undefined); // refused until redis-server listens; `eventually` below waits
  await eventually(async () => (await db.ping()) === 'PONG', 20_000, 'redis answers');
  return { url, db };
}

/** The files of a center serving HTTPS: its certificate and key, and the CA that verifies it. */
export interface HostCenterTls {
  cert: string;
  key: string;
  caFile: string;
}

/**
 * Starts `celeriac center` on the network's center host, listening on its control address, with
 * its data in `<dir>/center` and `adminToken` in a 0600 file; over HTTPS with `tls`. Resolves with
 * an admin client and the port once `/healthz` answers.
 */
export async function startHostCenter(
  network: HostNetwork,
  o: { dir: string; adminToken: string; logFile: string; tls?: HostCenterTls },
): Promise<{ admin: CenterApi; port: number }> {
  const port = await network.port(8700);
  const tokenFile = path.join(o.dir, 'admin-token');
  writeFileSync(tokenFile, o.adminToken, { mode: 0o600 });
  network.spawnCeleriac(
    network.center,
    [
      ...['center', '--data', path.join(o.dir, 'center')],
      ...['--listen', `${network.center.controlAddress}:${port}`],
      ...['--admin-token-file', tokenFile],
      ...(o.tls ? ['--tls-cert', o.tls.cert, '--tls-key', o.tls.key] : []),
    ],
    o.logFile,
  );
  const url = `${o.tls ? 'https' : 'http'}://${network.center.controlAddress}:${port}`;
  const admin = new CenterApi(url, o.adminToken, o.tls ? readFileSync(o.tls.caFile) : undefined);
  await eventually(async () => (await admin.request('GET', '/healthz')).status === 200, 30_000, 'center healthy');
  return { admin, port };
}

/**
 * Starts `celeriac agent` for `node` on its host (`--host node`, state in `<dir>/agent-<node>`, a
 * heartbeat of 500 ms), reaching the center on `centerPort` through the network, over HTTPS
 * verified with `caFile` when given; its metrics listen on the host's data address.
 */
export async function startHostAgent(
  network: HostNetwork,
  node: string,
  o: { centerPort: number; token: string; dir: string; logFile: string; caFile?: string },
): Promise<{ proc: Spawned; metrics: string }> {
  const host = network.host(node);
  const metricsPort = await network.port(9100);
  const centerUrl = await network.centerUrlFor(node, o.centerPort);
  const center = o.caFile
    ? ['--center', centerUrl.replace(/^http:/, 'https:'), '--ca-file', o.caFile]
    : ['--center', centerUrl];
  const proc = network.spawnCeleriac(
    host,
    [
      ...['agent', ...center, '--node', node, '--token', o.token],
      ...['--state-dir', path.join(o.dir, `agent-${node}`), '--host', node, '--heartbeat', '500ms'],
      ...['--metrics-listen', `${host.dataAddress}:${metricsPort}`],
    ],
    o.logFile,
  );
  return { proc, metrics: `http://${host.dataAddress}:${metricsPort}` };
}
