import type { Serializer } from '@celeriac/protocol';

/**
 * The seams between the pidbox logic (ControlServer, ControlClient) and the broker that carries it:
 * Redis (kombu's virtual exchanges: binding sets, PUBLISH, LPUSH/BRPOP) or RabbitMQ (real fanout
 * and direct exchanges). Transports move bytes and headers; encoding, matching and commands stay
 * in the control plane, so both brokers answer alike.
 */

/** One pidbox message off the wire: its kombu headers, content type and serialized body. */
export interface PidboxMessage {
  headers: Record<string, unknown>;
  /** `application/json` unless the sender said otherwise. */
  contentType: string;
  body: Buffer;
}

/** A pidbox message to send: a request (fanout `celery.pidbox`) or a reply (`reply.celery.pidbox`). */
export interface PidboxOutgoing {
  exchange: string;
  routingKey: string;
  /** kombu headers (`clock`, `expires`, `ticket`); numbers may be PyFloat wrappers. */
  headers: Record<string, unknown>;
  /** 2 for requests, 1 (transient) for replies, as kombu sends them. */
  deliveryMode: 1 | 2;
  serializer: Serializer;
  body: Buffer;
}

/** A node's side: receive the requests of its pidbox queue, send replies. */
export interface PidboxNodeTransport {
  /**
   * Declares `queue` (`<hostname>.celery.pidbox`), binds it to the fanout `exchange`
   * (`celery.pidbox`), then hands every request to `onRequest` in arrival order.
   */
  listen(queue: string, exchange: string, onRequest: (message: PidboxMessage) => void): Promise<void>;
  /** Sends a reply; a reply nobody waits for is dropped, as kombu does. Rejects when the broker fails. */
  reply(message: PidboxOutgoing): Promise<void>;
  /** Stops receiving and unbinds the node queue (warm shutdown). Idempotent; never rejects. */
  stop(): Promise<void>;
}

/** A client's side: publish requests, collect replies from its own reply queue. */
export interface PidboxClientTransport {
  /**
   * Gets `queue` (`<oid>.reply.celery.pidbox`, bound to the direct `exchange` with routing key `oid`)
   * ready to receive, before the request goes out.
   */
  openReplies(queue: string, exchange: string, oid: string): Promise<void>;
  publish(message: PidboxOutgoing): Promise<void>;
  /** The next reply, or null once `timeoutMs` passed or `abort()` was called. */
  nextReply(timeoutMs: number): Promise<PidboxMessage | null>;
  /** After a broadcast that wanted replies; never rejects. */
  closeReplies(queue: string, exchange: string, oid: string): Promise<void>;
  /** Ends a `nextReply` under way (and every later one) at once. */
  abort(): void;
  /** Closes what the transport opened. Idempotent. */
  close(): Promise<void>;
}
