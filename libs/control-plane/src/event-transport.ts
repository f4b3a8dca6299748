/** One event message: its routing key on `celeryev` (`worker.heartbeat`, `task.multi`) and its JSON body in base64. */
export interface EventMessage {
  routingKey: string;
  /** The body as base64 text (what kombu's Redis envelope carries; AMQP sends the bytes). */
  bodyBase64: string;
}

/**
 * How the EventDispatcher reaches the `celeryev` topic exchange: PUBLISH on Redis channels, or
 * basic.publish to the RabbitMQ exchange. Every message carries the header `hostname`.
 */
export interface EventTransport {
  /**
   * Publishes the messages to `exchange` (`celeryev`) in order, in one round trip where the broker
   * allows, each with `headers` (the same object every call); rejects when it fails.
   */
  publish(
    exchange: string,
    messages: readonly EventMessage[],
    headers: Readonly<Record<string, unknown>>,
  ): Promise<void>;
  /** Closes what the transport opened (a shared connection stays open). Idempotent. */
  close(): Promise<void>;
}
