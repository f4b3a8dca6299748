import net from 'node:net';

/** One relayed connection: bytes held in either direction while the relay is blocked. */
class Relay {
  private upstream: net.Socket | undefined;
  private readonly toUpstream: Buffer[] = [];
  private readonly toClient: Buffer[] = [];
  private closed = false;

  constructor(
    private readonly client: net.Socket,
    private readonly target: { host: string; port: number },
    private readonly isBlocked: () => boolean,
    private readonly onClose: () => void,
  ) {
    client.on('data', (chunk: Buffer) => this.send('up', chunk));
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    if (!isBlocked()) this.connect();
  }

  /** Connects upstream if not yet, and delivers what was held. */
  flush(): void {
    if (this.closed) return;
    if (!this.upstream) this.connect();
    for (const chunk of this.toClient.splice(0)) this.client.write(chunk);
    if (this.upstream && !this.upstream.connecting) {
      for (const chunk of this.toUpstream.splice(0)) this.upstream.write(chunk);
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.upstream?.destroy();
    this.onClose();
  }

  private connect(): void {
    const upstream = net.connect(this.target);
    this.upstream = upstream;
    upstream.on('connect', () => {
      if (!this.isBlocked()) this.flush();
    });
    upstream.on('data', (chunk: Buffer) => this.send('down', chunk));
    upstream.on('error', () => this.destroy());
    upstream.on('close', () => this.destroy());
  }

  private send(direction: 'up' | 'down', chunk: Buffer): void {
    const held = direction === 'up' ? this.toUpstream : this.toClient;
    const ready = direction === 'up' ? this.upstream !== undefined && !this.upstream.connecting : true;
    if (this.isBlocked() || !ready || held.length > 0) {
      held.push(chunk);
      return;
    }
    (direction === 'up' ? (this.upstream as net.Socket) : this.client).write(chunk);
  }
}

/**
 * A TCP relay from `listenHost:port` to a target that a test can block: while blocked, bytes
 * already in flight and new connections are held (nothing is refused or reset, as with a cut
 * link), and flow again on `unblock()`.
 */
export class PartitionProxy {
  private blocked = false;
  private readonly relays = new Set<Relay>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on `listenHost:port` and relays to `target`. */
  static async start(
    listenHost: string,
    port: number,
    target: { host: string; port: number },
  ): Promise<PartitionProxy> {
    const server = net.createServer();
    const proxy = new PartitionProxy(server, port);
    server.on('connection', (client) => {
      const relay: Relay = new Relay(
        client,
        target,
        () => proxy.blocked,
        () => proxy.relays.delete(relay),
      );
      proxy.relays.add(relay);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, listenHost, () => resolve());
    });
    return proxy;
  }

  /** Holds every byte from now on. */
  block(): void {
    this.blocked = true;
  }

  /** Lets bytes flow again, the held ones first. */
  unblock(): void {
    this.blocked = false;
    for (const relay of this.relays) relay.flush();
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const relay of this.relays) relay.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Drops every connection at once (synchronous, for exit handlers). */
  destroy(): void {
    for (const relay of this.relays) relay.destroy();
    if (this.server.listening) this.server.close();
  }
}
