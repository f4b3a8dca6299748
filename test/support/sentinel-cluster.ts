import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from '../../apps/cli/src/local-redis.js';

/** The Sentinel master group name the cluster monitors. */
export const MASTER_NAME = 'celeriac';
/** requirepass of every Redis server (and masterauth of the replicas, auth-pass of the sentinels). */
export const REDIS_PASSWORD = 'sentinel-s3cret-pw';

export interface SentinelClusterOptions {
  /** `min-replicas-to-write` on both Redis servers (0: off, the default). */
  minReplicasToWrite?: number;
  /** Sentinel's `down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** Replicas of the master (default 1). */
  replicas?: number;
}

interface Server {
  port: number;
  child: ChildProcess;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * A real Redis HA set for one test: a master, one replica and three `redis-sentinel` processes
 * (quorum 2) on free ports, as deploy/sentinel/ describes it. `killMaster()` SIGKILLs whichever
 * server is the master now; `waitForFailover()` resolves with the promoted one's port.
 */
export class SentinelCluster {
  private readonly servers: Server[] = [];
  private readonly sentinels: Server[] = [];

  private constructor(
    private readonly dir: string,
    private readonly options: Required<SentinelClusterOptions>,
  ) {}

  /** Starts master, replica (synced) and sentinels (each seeing the other two and the replica). */
  static async start(options: SentinelClusterOptions = {}): Promise<SentinelCluster> {
    const cluster = new SentinelCluster(mkdtempSync(path.join(tmpdir(), 'celeriac-sentinel-')), {
      minReplicasToWrite: options.minReplicasToWrite ?? 0,
      downAfterMs: options.downAfterMs ?? 1_000,
      replicas: options.replicas ?? 1,
    });
    try {
      const master = await cluster.startServer('master', null);
      for (let i = 1; i <= cluster.options.replicas; i++) await cluster.startServer(`replica${i}`, master.port);
      await cluster.waitForReplicaSync(master.port);
      for (const name of ['s1', 's2', 's3']) await cluster.startSentinel(name, master.port);
      await cluster.waitForSentinelsToKnowEachOther();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async startServer(name: string, replicaOf: number | null): Promise<Server> {
    const port = await freePort();
    const dir = path.join(this.dir, name);
    mkdirSync(dir);
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--requirepass',
      REDIS_PASSWORD,
      '--masterauth',
      REDIS_PASSWORD,
    ];
    if (replicaOf !== null) args.push('--replicaof', '127.0.0.1', String(replicaOf));
    if (this.options.minReplicasToWrite > 0) {
      args.push('--min-replicas-to-write', String(this.options.minReplicasToWrite), '--min-replicas-max-lag', '10');
    }
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitForPort(port, 5_000);
    const server = { port, child };
    this.servers.push(server);
    return server;
  }

  private async startSentinel(name: string, masterPort: number): Promise<void> {
    const port = await freePort();
    const file = path.join(this.dir, `${name}.conf`);
    // Sentinel rewrites its file: each one has its own.
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${REDIS_PASSWORD}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${this.options.downAfterMs}`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [file], { stdio: 'ignore' });
    await waitForPort(port, 5_000);
    this.sentinels.push({ port, child });
  }

  private async query<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
    const sentinel = this.sentinels.some((s) => s.port === port);
    const redis = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(sentinel ? {} : { password: REDIS_PASSWORD }),
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  }

  private async until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`sentinel cluster: ${what} within ${timeoutMs} ms`);
  }

  private async waitForReplicaSync(masterPort: number): Promise<void> {
    await this.until('the replica did not sync', 15_000, () =>
      this.query(masterPort, async (r) => {
        const info = await r.info('replication');
        return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === this.options.replicas;
      }),
    );
  }

  private async waitForSentinelsToKnowEachOther(): Promise<void> {
    await this.until('the sentinels did not discover each other and the replica', 30_000, async () => {
      for (const s of this.sentinels) {
        const ok = await this.query(s.port, async (r) => {
          const master = (await r.call('SENTINEL', 'MASTER', MASTER_NAME)) as string[];
          const field = (name: string) => Number(master[master.indexOf(name) + 1]);
          return field('num-other-sentinels') === 2 && field('num-slaves') === this.options.replicas;
        });
        if (!ok) return false;
      }
      return true;
    });
  }

  /** The sentinel URL list Celery takes: `sentinel://:pw@127.0.0.1:p1/db;sentinel://127.0.0.1:p2;...` (the password is the servers'). */
  url(db = 0): string {
    return this.sentinels
      .map((s, i) =>
        i === 0 ? `sentinel://:${REDIS_PASSWORD}@127.0.0.1:${s.port}/${db}` : `sentinel://127.0.0.1:${s.port}`,
      )
      .join(';');
  }

  /** The port of the server the sentinels call master now. */
  async masterPort(): Promise<number> {
    for (const s of this.sentinels) {
      if (exited(s.child)) continue;
      const reply = await this.query(s.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)).catch(
        () => null,
      );
      if (Array.isArray(reply)) return Number(reply[1]);
    }
    throw new Error('sentinel cluster: no sentinel answers');
  }

  /** Ports of the servers that are replicas now. */
  async replicaPorts(): Promise<number[]> {
    const master = await this.masterPort();
    return this.servers.filter((s) => s.port !== master && !exited(s.child)).map((s) => s.port);
  }

  /**
   * Cuts a replica off its master (a partition, as far as replication goes): its link is killed
   * and it cannot authenticate again, so writes the master takes from now on are not on it.
   */
  async cutReplicaLink(port: number): Promise<void> {
    await this.query(port, async (r) => {
      await r.config('SET', 'masterauth', 'wrong-password');
      await r.call('CLIENT', 'KILL', 'TYPE', 'master');
    });
  }

  /** Lets a cut replica authenticate again (it is still a candidate for promotion). */
  async restoreReplicaLink(port: number): Promise<void> {
    await this.query(port, (r) => r.config('SET', 'masterauth', REDIS_PASSWORD));
  }

  /** SIGKILLs the current master; resolves with its port once it is gone. */
  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`sentinel cluster: no server on ${port}`);
    await new Promise<void>((resolve) => {
      server.child.once('exit', () => resolve());
      server.child.kill('SIGKILL');
    });
    return port;
  }

  /** Waits until the sentinels name a master other than `oldPort` and it answers as a master. */
  async waitForFailover(oldPort: number, timeoutMs = 60_000): Promise<number> {
    let promoted = 0;
    await this.until('no replica was promoted', timeoutMs, async () => {
      promoted = await this.masterPort();
      if (promoted === oldPort) return false;
      return this.query(promoted, async (r) => /role:master/.test(await r.info('replication')));
    });
    return promoted;
  }

  /** Stops every process and removes the folder. */
  async stop(): Promise<void> {
    for (const p of [...this.sentinels, ...this.servers]) {
      if (exited(p.child)) continue;
      await new Promise<void>((resolve) => {
        p.child.once('exit', () => resolve());
        p.child.kill('SIGKILL');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
