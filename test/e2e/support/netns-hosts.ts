import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { freePort } from '../../support/redis-server.js';
import { PartitionProxy } from './partition-proxy.js';
import { CELERIAC_BIN, Spawned } from './processes.js';

// Separate hosts for end-to-end tests, built from Linux network namespaces.
//
// Topology (netns mode): two networks, each a bridge in the root namespace.
//   control 10.77.X.0/24  center 10.77.X.1, hosts 10.77.X.11.., the test runner 10.77.X.254
//   data    10.78.X.0/24  redis  10.78.X.1, hosts 10.78.X.11.., the test runner 10.78.X.254
// Redis, the center and every host are namespaces of their own; a host has one veth on each
// bridge. A partition sets the host's control veth down (the bridge side): the host loses the
// center and nothing else, so its workers keep reaching Redis on the data network, as a
// management network failing apart from the data path would. The test runner (producer,
// operator) sits on both bridges.
//
// Fallback (loopback mode, where `ip netns add` is refused): every process runs on this host on
// its own loopback address (127.77.0.x control, 127.78.0.x data), and each host reaches the center
// through a TCP relay of its own that a partition stops (bytes are held, as a cut link would,
// and flow again on heal).

const NS_PREFIX = 'celeriac-nh-';
const LINK_PREFIXES = ['cxb_', 'cxv_'];

/** How the hosts are separated. */
export type HostNetworkMode = 'netns' | 'loopback';

/** One machine of the test network. */
export interface NetHost {
  readonly name: string;
  /** Its address on the control network (the center's network). */
  readonly controlAddress: string;
  /** Its address on the data network (Redis's network). */
  readonly dataAddress: string;
  /** Its network namespace (netns mode). */
  readonly netns?: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryIp(...args: string[]): boolean {
  try {
    ip(...args);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespaceProcesses(ns: string): void {
  let pids: number[] = [];
  try {
    pids = ip('netns', 'pids', ns).split('\n').filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Removes namespaces and links left by earlier runs that crashed: only those whose creating
 * process (its pid is in the name) is gone, so a run going on in parallel is never touched.
 */
export function removeStaleHostNetworks(): string[] {
  const removed: string[] = [];
  let namespaces: string[] = [];
  try {
    namespaces = ip('netns', 'list')
      .split('\n')
      .map((line) => line.split(' ')[0] as string);
  } catch {
    return removed;
  }
  for (const ns of namespaces.filter((n) => n.startsWith(NS_PREFIX))) {
    const pid = Number(ns.slice(NS_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    killNamespaceProcesses(ns);
    if (tryIp('netns', 'del', ns)) removed.push(ns);
  }
  let links: string[] = [];
  try {
    links = ip('-o', 'link', 'show')
      .split('\n')
      .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
  } catch {
    return removed;
  }
  for (const link of links.filter((l) => LINK_PREFIXES.some((p) => l.startsWith(p)))) {
    const pid = Number.parseInt(link.slice(4).split('_')[0] as string, 36);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    if (tryIp('link', 'del', link)) removed.push(link);
  }
  return removed;
}

/** Whether this process may create network namespaces (tried, not guessed). */
function namespacesPermitted(tag: string): boolean {
  const probe = `${NS_PREFIX}${tag}-probe`;
  if (!tryIp('netns', 'add', probe)) return false;
  tryIp('netns', 'del', probe);
  return true;
}

/** Picks a third octet X with 10.77.X.0/24 and 10.78.X.0/24 unused on this host. */
function freeSubnetOctet(): number {
  const used = ip('-4', '-o', 'addr', 'show') + ip('-4', 'route', 'show');
  for (let attempt = 0; attempt < 200; attempt++) {
    const x = 1 + Math.floor(Math.random() * 250);
    if (!used.includes(`10.77.${x}.`) && !used.includes(`10.78.${x}.`)) return x;
  }
  throw new Error('no free 10.77.X.0/24 and 10.78.X.0/24 subnet on this host');
}

/**
 * Redis, a center and `hostNames` as separate hosts: namespaces when permitted, loopback
 * addresses otherwise (`mode` says which; `CELERIAC_E2E_NO_NETNS=1` forces the fallback).
 * `teardown()` removes everything, and runs by itself when the process exits.
 */
export class HostNetwork {
  readonly hosts = new Map<string, NetHost>();
  private readonly spawned = new Set<Spawned>();
  private readonly proxies = new Map<string, PartitionProxy>();
  private readonly controlLinks = new Map<string, string>();
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private torn = false;
  private readonly onExit = () => this.teardownSync();

  private constructor(
    readonly mode: HostNetworkMode,
    readonly tag: string,
    readonly redis: NetHost,
    readonly center: NetHost,
    /** Why namespaces were not used (loopback mode). */
    readonly fallbackReason?: string,
  ) {
    process.once('exit', this.onExit);
  }

  /** Builds the network. */
  static async create(hostNames: string[]): Promise<HostNetwork> {
    if (hostNames.length > 36) throw new Error('at most 36 hosts');
    const tag = `${process.pid}-${randomBytes(2).toString('hex')}`;
    let reason: string | undefined;
    if (process.env.CELERIAC_E2E_NO_NETNS === '1') reason = 'CELERIAC_E2E_NO_NETNS=1';
    else if (!namespacesPermitted(tag)) reason = '`ip netns add` was refused';
    if (reason === undefined) {
      removeStaleHostNetworks();
      return HostNetwork.createNamespaces(tag, hostNames);
    }
    const network = new HostNetwork(
      'loopback',
      tag,
      { name: 'redis', controlAddress: '127.78.0.1', dataAddress: '127.78.0.1' },
      { name: 'center', controlAddress: '127.77.0.1', dataAddress: '127.77.0.1' },
      reason,
    );
    hostNames.forEach((name, i) => {
      network.hosts.set(name, { name, controlAddress: `127.77.0.${11 + i}`, dataAddress: `127.78.0.${11 + i}` });
    });
    return network;
  }

  private static createNamespaces(tag: string, hostNames: string[]): HostNetwork {
    const x = freeSubnetOctet();
    const ctl = (n: number) => `10.77.${x}.${n}`;
    const data = (n: number) => `10.78.${x}.${n}`;
    const short = `${process.pid.toString(36)}_${tag.slice(-2)}`;
    const ns = (role: string) => `${NS_PREFIX}${tag}-${role}`;
    const network = new HostNetwork(
      'netns',
      tag,
      { name: 'redis', controlAddress: data(1), dataAddress: data(1), netns: ns('redis') },
      { name: 'center', controlAddress: ctl(1), dataAddress: ctl(1), netns: ns('center') },
    );
    try {
      const bridges = { c: `cxb_${short}c`, d: `cxb_${short}d` };
      for (const [kind, bridge] of Object.entries(bridges)) {
        ip('link', 'add', bridge, 'type', 'bridge');
        network.links.push(bridge);
        ip('addr', 'add', `${kind === 'c' ? ctl(254) : data(254)}/24`, 'dev', bridge);
        ip('link', 'set', bridge, 'up');
      }
      const clash = ip('-4', '-o', 'addr', 'show')
        .split('\n')
        .filter((l) => l.includes(`10.77.${x}.254/`));
      if (clash.length > 1) throw new Error(`subnet 10.77.${x}.0/24 taken by a parallel run; try again`);
      const attach = (space: string, index: string, kind: 'c' | 'd', address: string) => {
        const outside = `cxv_${short}${index}${kind}`;
        const inside = kind === 'c' ? 'ctl0' : 'data0';
        ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', space);
        ip('link', 'set', outside, 'master', bridges[kind], 'up');
        ip('-n', space, 'addr', 'add', `${address}/24`, 'dev', inside);
        ip('-n', space, 'link', 'set', inside, 'up');
        return outside;
      };
      const addNamespace = (space: string) => {
        ip('netns', 'add', space);
        network.namespaces.push(space);
        ip('-n', space, 'link', 'set', 'lo', 'up');
      };
      addNamespace(network.redis.netns as string);
      attach(network.redis.netns as string, 'r', 'd', network.redis.dataAddress);
      addNamespace(network.center.netns as string);
      attach(network.center.netns as string, 's', 'c', network.center.controlAddress);
      hostNames.forEach((name, i) => {
        const space = ns(`host-${name}`);
        addNamespace(space);
        const index = i.toString(36);
        const control = attach(space, index, 'c', ctl(11 + i));
        attach(space, index, 'd', data(11 + i));
        network.hosts.set(name, { name, controlAddress: ctl(11 + i), dataAddress: data(11 + i), netns: space });
        network.controlLinks.set(name, control);
      });
    } catch (error) {
      network.teardownSync();
      throw error;
    }
    return network;
  }

  /** A sentence for the test output: how the hosts are separated. */
  describe(): string {
    const hosts = [...this.hosts.values()].map((h) => `${h.name} ${h.controlAddress}/${h.dataAddress}`).join(', ');
    const where = `redis ${this.redis.dataAddress}, center ${this.center.controlAddress}, hosts ${hosts}`;
    return this.mode === 'netns'
      ? `multi-host: network namespaces (${this.tag}); ${where}`
      : `multi-host: FALLBACK to separate processes on loopback addresses (${this.fallbackReason}); ${where}`;
  }

  /** A port to listen on at `host`: fixed in netns mode (each host has its own), free otherwise. */
  async port(fixed: number): Promise<number> {
    return this.mode === 'netns' ? fixed : freePort();
  }

  /** Spawns `command args` on `host` (inside its namespace), output appended to `logFile`. */
  spawn(host: NetHost, command: string, args: string[], logFile: string, env: Record<string, string> = {}): Spawned {
    const [file, argv] = host.netns ? ['ip', ['netns', 'exec', host.netns, command, ...args]] : [command, args];
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(file, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => setTimeout(() => log.end(), 50));
    const spawned = new Spawned(child);
    this.spawned.add(spawned);
    return spawned;
  }

  /** Spawns the built `celeriac <args>` on `host`. */
  spawnCeleriac(host: NetHost, args: string[], logFile: string, env: Record<string, string> = {}): Spawned {
    return this.spawn(host, process.execPath, [CELERIAC_BIN, ...args], logFile, env);
  }

  /** The center URL as `hostName` reaches it (through its relay in loopback mode). */
  async centerUrlFor(hostName: string, centerPort: number): Promise<string> {
    const host = this.host(hostName);
    if (this.mode === 'netns') return `http://${this.center.controlAddress}:${centerPort}`;
    let proxy = this.proxies.get(hostName);
    if (!proxy) {
      proxy = await PartitionProxy.start(host.controlAddress, await freePort(), {
        host: this.center.controlAddress,
        port: centerPort,
      });
      this.proxies.set(hostName, proxy);
    }
    return `http://${host.controlAddress}:${proxy.port}`;
  }

  /** Cuts `hostName` off the control network (the center); its data path (Redis) stays. */
  partition(hostName: string): void {
    this.host(hostName);
    if (this.mode === 'netns') ip('link', 'set', this.controlLinks.get(hostName) as string, 'down');
    else this.proxies.get(hostName)?.block();
  }

  /** Undoes `partition`. */
  heal(hostName: string): void {
    this.host(hostName);
    if (this.mode === 'netns') ip('link', 'set', this.controlLinks.get(hostName) as string, 'up');
    else this.proxies.get(hostName)?.unblock();
  }

  /** The host named `name`. */
  host(name: string): NetHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /**
   * Stops what still runs (SIGTERM, then SIGKILL after `graceMs`), kills anything left in the
   * namespaces and removes them, the links and the relays. Idempotent.
   */
  async teardown(graceMs = 5000): Promise<void> {
    await Promise.all([...this.spawned].map((s) => s.stop('SIGTERM', graceMs)));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.teardownSync();
  }

  private teardownSync(): void {
    if (this.torn) return;
    this.torn = true;
    process.removeListener('exit', this.onExit);
    for (const s of this.spawned) if (s.running) s.child.kill('SIGKILL');
    for (const p of this.proxies.values()) p.destroy();
    for (const ns of this.namespaces) {
      killNamespaceProcesses(ns);
      tryIp('netns', 'del', ns);
    }
    for (const link of this.links) tryIp('link', 'del', link);
  }
}
