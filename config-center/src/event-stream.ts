import type { FastifyReply } from 'fastify';

/** One open `text/event-stream` answer. */
export interface EventStream {
  /** Sends one event: `event: <name>` and `json` (one line of JSON) as its data. False once the stream is closed. */
  send(event: string, json: string): boolean;
  /** Ends the stream (the client reconnects). Idempotent. */
  close(): void;
  /** Called once when the stream ends, whoever ended it. */
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

/** Options of the event streams of a center. */
export interface EventStreamOptions {
  /** A comment line this often keeps proxies and the socket timeout from closing a quiet stream; default 15 s. */
  keepAliveMs?: number;
  /**
   * A stream ends after this long and the client reconnects: it authenticates again (a revoked
   * token stops receiving) and a load balancer may move it.
   */
  lifetimeMs: number;
}

/**
 * The open server-sent-event answers of a center (GET /v1/rollouts/stream, /v1/health/stream):
 * each written on the raw socket (the reply is hijacked), kept alive by comments, ended after its
 * lifetime, and all ended by `closeAll` before the server closes (else they would hold it open).
 */
export class EventStreams {
  private readonly open = new Set<EventStream>();

  constructor(private readonly options: EventStreamOptions) {}

  /** Open streams. */
  get size(): number {
    return this.open.size;
  }

  /** Answers the request with an event stream (200, `text/event-stream`); the route has authenticated it. */
  start(reply: FastifyReply): EventStream {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx and similar proxies buffer answers unless told not to.
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // For EventSource clients: how long to wait before reconnecting after a clean end.
    raw.write('retry: 1000\n\n');
    const listeners: (() => void)[] = [];
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      clearTimeout(lifetime);
      this.open.delete(stream);
      for (const listener of listeners) listener();
    };
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), this.options.keepAliveMs ?? 15_000);
    const lifetime = setTimeout(() => stream.close(), this.options.lifetimeMs);
    const stream: EventStream = {
      send(event, json) {
        if (closed) return false;
        raw.write(`event: ${event}\ndata: ${json}\n\n`);
        return true;
      },
      close() {
        if (closed) return;
        raw.end();
        finish();
      },
      onClose(listener) {
        if (closed) listener();
        else listeners.push(listener);
      },
      get closed() {
        return closed;
      },
    };
    // The response's close: the client went away or the answer ended (the request's own close fires once its body is read).
    raw.on('close', finish);
    this.open.add(stream);
    return stream;
  }

  /** Ends every open stream (the server is closing). */
  closeAll(): void {
    for (const stream of [...this.open]) stream.close();
  }
}
